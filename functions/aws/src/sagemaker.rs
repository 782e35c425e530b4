//! SageMaker for the container backend: training jobs (train) and processing jobs running the
//! scoring image (score). Counting what runs follows `NextToken` through every page, short or
//! empty ones included, since SageMaker filters after paging.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_sagemaker::types::{
    AlgorithmSpecification, AppSpecification, Channel, DataSource, NetworkConfig, OutputDataConfig,
    ProcessingClusterConfig, ProcessingInput, ProcessingInstanceType, ProcessingJobStatus, ProcessingOutput,
    ProcessingOutputConfig, ProcessingResources, ProcessingS3DataDistributionType, ProcessingS3DataType,
    ProcessingS3Input, ProcessingS3InputMode, ProcessingS3Output, ProcessingS3UploadMode,
    ProcessingStoppingCondition, ResourceConfig, S3DataDistribution, S3DataSource, S3DataType,
    StoppingCondition, Tag, TrainingInputMode, TrainingInstanceType, TrainingJobStatus,
};
use aws_sdk_sagemaker::Client;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use recoflow_core::errors::ServiceError;
use recoflow_core::launch::{
    CreateError, CreateOutcome, Observed, ProcessingJobSpec, ResourceSpec, TrainingJobSpec,
};
use recoflow_core::phase::{LaunchedResource, ResourceKind, ResourceState};
use recoflow_core::ports::MlService;
use recoflow_core::quota::{has_prefix, Pool, ServiceJob};

use crate::{error_code, error_text, service_error};

/// Disk per training instance, GB.
const VOLUME_SIZE_GB: i32 = 30;

pub struct SageMakerService {
    client: Client,
    /// The role SageMaker jobs run as (reads the data bucket, writes the results bucket).
    role_arn: String,
}

impl SageMakerService {
    pub fn new(client: Client, role_arn: impl Into<String>) -> Self {
        Self {
            client,
            role_arn: role_arn.into(),
        }
    }

    async fn in_progress_training(
        &self,
        instance_type: &str,
        ours: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError> {
        let mut jobs = Vec::new();
        // A stopping job still holds its instances.
        for status in [TrainingJobStatus::InProgress, TrainingJobStatus::Stopping] {
            let mut pages = self
                .client
                .list_training_jobs()
                .status_equals(status)
                .max_results(100)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_error("SageMaker", "ListTrainingJobs", &e))?;
                for summary in page.training_job_summaries() {
                    let name = summary.training_job_name().unwrap_or_default();
                    if has_prefix(name, ours) {
                        continue;
                    }
                    // The summary lacks the instance type: look at the job itself.
                    let job = match self
                        .client
                        .describe_training_job()
                        .training_job_name(name)
                        .send()
                        .await
                    {
                        Ok(job) => job,
                        Err(err) if is_not_found(&err) => continue,
                        Err(err) => return Err(service_error("SageMaker", "DescribeTrainingJob", &err)),
                    };
                    if let Some(resources) = job.resource_config() {
                        if resources.instance_type().map(|t| t.as_str()) == Some(instance_type) {
                            jobs.push(ServiceJob {
                                name: name.to_owned(),
                                units: resources.instance_count().unwrap_or(1).max(1) as u32,
                            });
                        }
                    }
                }
            }
        }
        Ok(jobs)
    }

    async fn in_progress_processing(
        &self,
        instance_type: &str,
        ours: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError> {
        let mut jobs = Vec::new();
        for status in [ProcessingJobStatus::InProgress, ProcessingJobStatus::Stopping] {
            let mut pages = self
                .client
                .list_processing_jobs()
                .status_equals(status)
                .max_results(100)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                let page = page.map_err(|e| service_error("SageMaker", "ListProcessingJobs", &e))?;
                for summary in page.processing_job_summaries() {
                    let name = summary.processing_job_name().unwrap_or_default();
                    if has_prefix(name, ours) {
                        continue;
                    }
                    let job = match self
                        .client
                        .describe_processing_job()
                        .processing_job_name(name)
                        .send()
                        .await
                    {
                        Ok(job) => job,
                        Err(err) if is_not_found(&err) => continue,
                        Err(err) => return Err(service_error("SageMaker", "DescribeProcessingJob", &err)),
                    };
                    let cluster = job.processing_resources().and_then(|r| r.cluster_config());
                    if let Some(cluster) = cluster {
                        if cluster.instance_type().map(|t| t.as_str()) == Some(instance_type) {
                            jobs.push(ServiceJob {
                                name: name.to_owned(),
                                units: cluster.instance_count().unwrap_or(1).max(1) as u32,
                            });
                        }
                    }
                }
            }
        }
        Ok(jobs)
    }

    async fn describe_training(&self, name: &str) -> Result<Option<Observed>, ServiceError> {
        let job = match self
            .client
            .describe_training_job()
            .training_job_name(name)
            .send()
            .await
        {
            Ok(job) => job,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(service_error("SageMaker", "DescribeTrainingJob", &err)),
        };
        let reason = job.failure_reason().map(str::to_owned);
        let secondary = job.secondary_status().map(|s| s.as_str().to_owned());
        let state = match job.training_job_status() {
            Some(TrainingJobStatus::Completed) => ResourceState::Succeeded,
            Some(TrainingJobStatus::Failed) => ResourceState::Failed,
            Some(TrainingJobStatus::Stopped) => ResourceState::Stopped,
            _ => ResourceState::Running,
        };
        Ok(Some(Observed {
            arn: job.training_job_arn().map(str::to_owned),
            platform_failure: state == ResourceState::Failed && is_platform_failure(reason.as_deref()),
            reason: reason.or_else(|| {
                (state == ResourceState::Stopped)
                    .then(|| format!("stopped ({})", secondary.clone().unwrap_or_default()))
            }),
            model_artifacts: job
                .model_artifacts()
                .and_then(|m| m.s3_model_artifacts())
                .map(str::to_owned),
            detail: secondary,
            state,
        }))
    }

    async fn describe_processing(&self, name: &str) -> Result<Option<Observed>, ServiceError> {
        let job = match self
            .client
            .describe_processing_job()
            .processing_job_name(name)
            .send()
            .await
        {
            Ok(job) => job,
            Err(err) if is_not_found(&err) => return Ok(None),
            Err(err) => return Err(service_error("SageMaker", "DescribeProcessingJob", &err)),
        };
        let reason = job.failure_reason().map(str::to_owned);
        let state = match job.processing_job_status() {
            Some(ProcessingJobStatus::Completed) => ResourceState::Succeeded,
            Some(ProcessingJobStatus::Failed) => ResourceState::Failed,
            Some(ProcessingJobStatus::Stopped) => ResourceState::Stopped,
            _ => ResourceState::Running,
        };
        Ok(Some(Observed {
            arn: job.processing_job_arn().map(str::to_owned),
            platform_failure: state == ResourceState::Failed && is_platform_failure(reason.as_deref()),
            reason,
            model_artifacts: None,
            detail: job.exit_message().map(str::to_owned),
            state,
        }))
    }

    async fn create_training(&self, spec: &TrainingJobSpec) -> Result<CreateOutcome, CreateError> {
        let channels = spec.channels.iter().map(|(channel, uri)| {
            Channel::builder()
                .channel_name(channel)
                .data_source(
                    DataSource::builder()
                        .s3_data_source(
                            S3DataSource::builder()
                                .s3_data_type(S3DataType::S3Prefix)
                                .s3_uri(uri)
                                .s3_data_distribution_type(S3DataDistribution::FullyReplicated)
                                .build(),
                        )
                        .build(),
                )
                .build()
        });
        let result = self
            .client
            .create_training_job()
            .training_job_name(&spec.name)
            .role_arn(&self.role_arn)
            .algorithm_specification(
                AlgorithmSpecification::builder()
                    .training_image(&spec.image)
                    .training_input_mode(TrainingInputMode::File)
                    .build(),
            )
            .set_input_data_config(Some(channels.collect()))
            .output_data_config(
                OutputDataConfig::builder()
                    .s3_output_path(&spec.output_path)
                    .build(),
            )
            .resource_config(
                ResourceConfig::builder()
                    .instance_type(TrainingInstanceType::from(spec.instance_type.as_str()))
                    .instance_count(spec.instance_count as i32)
                    .volume_size_in_gb(VOLUME_SIZE_GB)
                    .build(),
            )
            .stopping_condition(
                StoppingCondition::builder()
                    .max_runtime_in_seconds(spec.max_runtime_seconds as i32)
                    .build(),
            )
            .set_hyper_parameters((!spec.hyperparameters.is_empty()).then(|| {
                spec.hyperparameters
                    .clone()
                    .into_iter()
                    .collect::<HashMap<_, _>>()
            }))
            .enable_network_isolation(spec.network_isolation)
            .set_tags(Some(tags(&spec.tags)))
            .send()
            .await;
        match result {
            Ok(output) => Ok(CreateOutcome::Created {
                arn: output.training_job_arn,
            }),
            Err(err) => refused_create("CreateTrainingJob", &err),
        }
    }

    async fn create_processing(&self, spec: &ProcessingJobSpec) -> Result<CreateOutcome, CreateError> {
        let inputs = spec.inputs.iter().map(|input| {
            ProcessingInput::builder()
                .input_name(&input.name)
                .s3_input(
                    ProcessingS3Input::builder()
                        .s3_uri(&input.s3_uri)
                        .local_path(&input.local_path)
                        .s3_data_type(ProcessingS3DataType::S3Prefix)
                        .s3_input_mode(ProcessingS3InputMode::File)
                        .s3_data_distribution_type(match input.sharded {
                            true => ProcessingS3DataDistributionType::Shardedbys3Key,
                            false => ProcessingS3DataDistributionType::Fullyreplicated,
                        })
                        .build(),
                )
                .build()
        });
        let (local_path, s3_uri) = &spec.output;
        let output = ProcessingOutput::builder()
            .output_name("scores")
            .s3_output(
                ProcessingS3Output::builder()
                    .s3_uri(s3_uri)
                    .local_path(local_path)
                    .s3_upload_mode(ProcessingS3UploadMode::EndOfJob)
                    .build(),
            )
            .build();
        let result = self
            .client
            .create_processing_job()
            .processing_job_name(&spec.name)
            .role_arn(&self.role_arn)
            .app_specification(
                AppSpecification::builder()
                    .image_uri(&spec.image)
                    .set_container_arguments(Some(spec.arguments.clone()))
                    .build(),
            )
            .set_processing_inputs(Some(inputs.collect()))
            .processing_output_config(ProcessingOutputConfig::builder().outputs(output).build())
            .processing_resources(
                ProcessingResources::builder()
                    .cluster_config(
                        ProcessingClusterConfig::builder()
                            .instance_type(ProcessingInstanceType::from(spec.instance_type.as_str()))
                            .instance_count(spec.instance_count as i32)
                            .volume_size_in_gb(VOLUME_SIZE_GB)
                            .build(),
                    )
                    .build(),
            )
            .stopping_condition(
                ProcessingStoppingCondition::builder()
                    .max_runtime_in_seconds(spec.max_runtime_seconds as i32)
                    .build(),
            )
            .network_config(
                NetworkConfig::builder()
                    .enable_network_isolation(spec.network_isolation)
                    .build(),
            )
            .set_tags(Some(tags(&spec.tags)))
            .send()
            .await;
        match result {
            Ok(output) => Ok(CreateOutcome::Created {
                arn: output.processing_job_arn,
            }),
            Err(err) => refused_create("CreateProcessingJob", &err),
        }
    }
}

fn tags(tags: &[recoflow_core::launch::Tag]) -> Vec<Tag> {
    tags.iter()
        .map(|t| Tag::builder().key(&t.key).value(&t.value).build())
        .collect()
}

/// SageMaker answers an unknown job with `ValidationException` ("Requested resource not
/// found", "Could not find requested job"), or `ResourceNotFound`.
fn is_not_found<E, R>(err: &SdkError<E, R>) -> bool
where
    E: ProvideErrorMetadata,
{
    let message = err
        .as_service_error()
        .and_then(|e| e.message())
        .unwrap_or_default()
        .to_ascii_lowercase();
    match error_code(err) {
        Some("ResourceNotFound") => true,
        Some("ValidationException") => message.contains("not found") || message.contains("could not find"),
        _ => false,
    }
}

/// Failures that are the platform's, which SageMaker Pipelines' retry policies relaunch
/// (`JOB_INTERNAL_ERROR`, `CAPACITY_ERROR`), not the container's (`AlgorithmError`, `ClientError`).
fn is_platform_failure(reason: Option<&str>) -> bool {
    let Some(reason) = reason else { return false };
    reason.starts_with("InternalServerError")
        || reason.contains("CapacityError")
        || reason.contains("InsufficientCapacity")
        || reason.contains("Unable to provision requested ML compute capacity")
}

/// What a refused create call means for the runner.
fn refused_create<E, R>(operation: &'static str, err: &SdkError<E, R>) -> Result<CreateOutcome, CreateError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error_code(err) {
        // A retried launch finds the job it created: adopt it.
        Some("ResourceInUse") => Ok(CreateOutcome::AlreadyExists),
        Some("ResourceLimitExceeded" | "ThrottlingException" | "LimitExceededException") => {
            Err(CreateError::Refused(error_text(err)))
        }
        Some("ValidationException" | "AccessDeniedException" | "ResourceNotFound") => {
            Err(CreateError::Invalid(error_text(err)))
        }
        _ => Err(CreateError::Service(service_error("SageMaker", operation, err))),
    }
}

#[async_trait]
impl MlService for SageMakerService {
    async fn in_progress(
        &self,
        pool: &Pool,
        recoflow_prefixes: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError> {
        match pool {
            Pool::SageMakerTraining { instance_type } => {
                self.in_progress_training(instance_type, recoflow_prefixes).await
            }
            Pool::SageMakerProcessing { instance_type } => {
                self.in_progress_processing(instance_type, recoflow_prefixes)
                    .await
            }
            _ => Ok(Vec::new()),
        }
    }

    async fn describe(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ServiceError> {
        match spec {
            ResourceSpec::TrainingJob(job) => self.describe_training(&job.name).await,
            ResourceSpec::ProcessingJob(job) => self.describe_processing(&job.name).await,
            other => Err(ServiceError::Failed {
                service: "SageMaker",
                operation: "describe",
                message: format!("{:?} is not a SageMaker resource", other.kind()),
            }),
        }
    }

    async fn create(&self, spec: &ResourceSpec) -> Result<CreateOutcome, CreateError> {
        match spec {
            ResourceSpec::TrainingJob(job) => self.create_training(job).await,
            ResourceSpec::ProcessingJob(job) => self.create_processing(job).await,
            other => Err(CreateError::Invalid(format!(
                "{:?} is not a SageMaker resource",
                other.kind()
            ))),
        }
    }

    async fn observe(&self, resource: &LaunchedResource) -> Result<Option<Observed>, ServiceError> {
        match resource.kind {
            ResourceKind::TrainingJob => self.describe_training(&resource.name).await,
            ResourceKind::ProcessingJob => self.describe_processing(&resource.name).await,
            _ => Ok(None),
        }
    }

    async fn stop(&self, resource: &LaunchedResource) -> Result<(), ServiceError> {
        let result = match resource.kind {
            ResourceKind::TrainingJob => self
                .client
                .stop_training_job()
                .training_job_name(&resource.name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        error_code(&e).map(str::to_owned),
                        service_error("SageMaker", "StopTrainingJob", &e),
                    )
                }),
            ResourceKind::ProcessingJob => self
                .client
                .stop_processing_job()
                .processing_job_name(&resource.name)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| {
                    (
                        error_code(&e).map(str::to_owned),
                        service_error("SageMaker", "StopProcessingJob", &e),
                    )
                }),
            _ => Ok(()),
        };
        match result {
            Ok(()) => Ok(()),
            // Already ended, stopping, or never created: nothing left to stop.
            Err((Some(code), _)) if code == "ValidationException" || code == "ResourceNotFound" => Ok(()),
            Err((_, err)) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::is_platform_failure;

    #[test]
    fn platform_failures_are_told_from_the_container_s_own() {
        assert!(is_platform_failure(Some(
            "InternalServerError: We encountered an internal error. Please try again."
        )));
        assert!(is_platform_failure(Some("CapacityError: Unable to provision requested ML compute capacity. Please retry using a different ML instance type.")));
        assert!(!is_platform_failure(Some(
            "AlgorithmError: /opt/ml/input/data/interactions/x.csv:3 column TIMESTAMP: expected an integer"
        )));
        assert!(!is_platform_failure(Some(
            "ClientError: No S3 objects found under S3 URL"
        )));
        assert!(!is_platform_failure(None));
    }
}
