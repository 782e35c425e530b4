//! Amazon Personalize for the personalize backend: dataset group, schemas, datasets and import
//! jobs (import), solution and solution version (train), batch inference or, for audiences,
//! batch segment jobs (score).
//!
//! Describe calls take ARNs; ARNs of named resources are built from the deployment's ARN prefix
//! (`arn:<partition>:personalize:<region>:<account>`), so a resource is found by its name.

use async_trait::async_trait;
use aws_sdk_personalize::types::{
    BatchInferenceJobInput, BatchInferenceJobOutput, BatchSegmentJobInput, BatchSegmentJobOutput, DataSource,
    ImportMode, S3DataConfig, Tag, TrainingMode as SdkTrainingMode,
};
use aws_sdk_personalize::Client;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use recoflow_core::errors::ServiceError;
use recoflow_core::form::TrainingMode;
use recoflow_core::launch::{CreateError, CreateOutcome, Observed, ResourceSpec};
use recoflow_core::phase::{LaunchedResource, ResourceKind, ResourceState};
use recoflow_core::ports::MlService;
use recoflow_core::quota::{has_prefix, Pool, ServiceJob};

use crate::{error_code, error_text, service_error};

pub struct PersonalizeService {
    client: Client,
    /// The role Personalize reads the data bucket and writes the results bucket with.
    role_arn: String,
    /// `arn:<partition>:personalize:<region>:<account>`
    arn_prefix: String,
}

/// Statuses of resources still being created (they count against concurrency limits).
const IN_PROGRESS: [&str; 2] = ["CREATE PENDING", "CREATE IN_PROGRESS"];

impl PersonalizeService {
    pub fn new(client: Client, role_arn: impl Into<String>, arn_prefix: impl Into<String>) -> Self {
        Self {
            client,
            role_arn: role_arn.into(),
            arn_prefix: arn_prefix.into().trim_end_matches(':').to_owned(),
        }
    }

    fn arn(&self, path: &str) -> String {
        format!("{}:{path}", self.arn_prefix)
    }

    fn group_arn(&self, group: &str) -> String {
        self.arn(&format!("dataset-group/{group}"))
    }

    fn dataset_arn(&self, group: &str, dataset_type: &str) -> String {
        self.arn(&format!("dataset/{group}/{dataset_type}"))
    }

    fn solution_arn(&self, solution: &str) -> String {
        self.arn(&format!("solution/{solution}"))
    }

    /// The ARN of a named solution version, found by looking at the solution's versions (only
    /// needed when a launch's create call succeeded but its ARN was never recorded).
    async fn find_solution_version(
        &self,
        solution: &str,
        name: &str,
    ) -> Result<Option<String>, ServiceError> {
        let mut pages = self
            .client
            .list_solution_versions()
            .solution_arn(self.solution_arn(solution))
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = match page {
                Ok(page) => page,
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(service_error("Personalize", "ListSolutionVersions", &err)),
            };
            for summary in page.solution_versions() {
                let Some(arn) = summary.solution_version_arn() else {
                    continue;
                };
                let version = self
                    .client
                    .describe_solution_version()
                    .solution_version_arn(arn)
                    .send()
                    .await
                    .map_err(|e| service_error("Personalize", "DescribeSolutionVersion", &e))?;
                if version.solution_version().and_then(|v| v.name()) == Some(name) {
                    return Ok(Some(arn.to_owned()));
                }
            }
        }
        Ok(None)
    }

    async fn describe_arn(&self, kind: ResourceKind, arn: &str) -> Result<Option<Observed>, ServiceError> {
        macro_rules! look {
            ($call:ident, $arg:ident, $get:ident, $op:literal) => {
                match self.client.$call().$arg(arn).send().await {
                    Ok(output) => output.$get().map(|r| {
                        (
                            r.status().map(str::to_owned),
                            r.failure_reason().map(str::to_owned),
                        )
                    }),
                    Err(err) if is_not_found(&err) => return Ok(None),
                    Err(err) => return Err(service_error("Personalize", $op, &err)),
                }
            };
        }
        let found = match kind {
            ResourceKind::DatasetGroup => look!(
                describe_dataset_group,
                dataset_group_arn,
                dataset_group,
                "DescribeDatasetGroup"
            ),
            ResourceKind::Dataset => match self.client.describe_dataset().dataset_arn(arn).send().await {
                Ok(output) => output.dataset().map(|d| (d.status().map(str::to_owned), None)),
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(service_error("Personalize", "DescribeDataset", &err)),
            },
            ResourceKind::Schema => match self.client.describe_schema().schema_arn(arn).send().await {
                // Schemas have no status: one that exists is ready.
                Ok(output) => output.schema().map(|_| (Some("ACTIVE".to_owned()), None)),
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(service_error("Personalize", "DescribeSchema", &err)),
            },
            ResourceKind::DatasetImportJob => look!(
                describe_dataset_import_job,
                dataset_import_job_arn,
                dataset_import_job,
                "DescribeDatasetImportJob"
            ),
            ResourceKind::Solution => match self.client.describe_solution().solution_arn(arn).send().await {
                Ok(output) => output.solution().map(|s| (s.status().map(str::to_owned), None)),
                Err(err) if is_not_found(&err) => return Ok(None),
                Err(err) => return Err(service_error("Personalize", "DescribeSolution", &err)),
            },
            ResourceKind::SolutionVersion => look!(
                describe_solution_version,
                solution_version_arn,
                solution_version,
                "DescribeSolutionVersion"
            ),
            ResourceKind::BatchInferenceJob => look!(
                describe_batch_inference_job,
                batch_inference_job_arn,
                batch_inference_job,
                "DescribeBatchInferenceJob"
            ),
            ResourceKind::BatchSegmentJob => look!(
                describe_batch_segment_job,
                batch_segment_job_arn,
                batch_segment_job,
                "DescribeBatchSegmentJob"
            ),
            ResourceKind::TrainingJob | ResourceKind::ProcessingJob => None,
        };
        let Some((status, reason)) = found else {
            return Ok(None);
        };
        let status = status.unwrap_or_default();
        let state = match status.as_str() {
            "ACTIVE" => ResourceState::Succeeded,
            "CREATE FAILED" => ResourceState::Failed,
            "CREATE STOPPED" => ResourceState::Stopped,
            s if s.starts_with("DELETE") => ResourceState::Failed,
            _ => ResourceState::Running,
        };
        Ok(Some(Observed {
            arn: Some(arn.to_owned()),
            state,
            reason: reason.or_else(|| {
                status
                    .starts_with("DELETE")
                    .then(|| format!("it is being deleted ({status})"))
            }),
            platform_failure: false,
            model_artifacts: None,
            detail: Some(status),
        }))
    }

    /// The ARN a spec's resource has (or would have), when it can be known without a lookup.
    fn spec_arn(&self, spec: &ResourceSpec) -> Option<String> {
        Some(match spec {
            ResourceSpec::DatasetGroup { name, .. } => self.group_arn(name),
            ResourceSpec::Schema { name, .. } => self.arn(&format!("schema/{name}")),
            ResourceSpec::Dataset {
                group, dataset_type, ..
            } => self.dataset_arn(group, dataset_type.as_str()),
            ResourceSpec::DatasetImportJob { name, .. } => self.arn(&format!("dataset-import-job/{name}")),
            ResourceSpec::Solution { name, .. } => self.solution_arn(name),
            ResourceSpec::SolutionVersion { arn, .. } => return arn.clone(),
            ResourceSpec::BatchInferenceJob { name, .. } => self.arn(&format!("batch-inference-job/{name}")),
            ResourceSpec::BatchSegmentJob { name, .. } => self.arn(&format!("batch-segment-job/{name}")),
            ResourceSpec::TrainingJob(_) | ResourceSpec::ProcessingJob(_) => return None,
        })
    }

    async fn create_resource(&self, spec: &ResourceSpec) -> Result<CreateOutcome, CreateError> {
        macro_rules! sent {
            ($request:expr, $op:literal, $arn:ident) => {
                match $request.send().await {
                    Ok(output) => Ok(CreateOutcome::Created {
                        arn: output.$arn().map(str::to_owned),
                    }),
                    Err(err) => refused_create($op, &err),
                }
            };
        }
        match spec {
            ResourceSpec::DatasetGroup { name, tags: t } => sent!(
                self.client
                    .create_dataset_group()
                    .name(name)
                    .set_tags(Some(tags(t)?)),
                "CreateDatasetGroup",
                dataset_group_arn
            ),
            ResourceSpec::Schema { name, schema } => sent!(
                self.client.create_schema().name(name).schema(schema),
                "CreateSchema",
                schema_arn
            ),
            ResourceSpec::Dataset {
                name,
                group,
                dataset_type,
                schema,
                tags: t,
            } => sent!(
                self.client
                    .create_dataset()
                    .name(name)
                    .dataset_group_arn(self.group_arn(group))
                    .dataset_type(dataset_type.as_str())
                    .schema_arn(self.arn(&format!("schema/{schema}")))
                    .set_tags(Some(tags(t)?)),
                "CreateDataset",
                dataset_arn
            ),
            ResourceSpec::DatasetImportJob {
                name,
                group,
                dataset_type,
                data_location,
                tags: t,
            } => sent!(
                self.client
                    .create_dataset_import_job()
                    .job_name(name)
                    .dataset_arn(self.dataset_arn(group, dataset_type.as_str()))
                    .data_source(DataSource::builder().data_location(data_location).build())
                    .role_arn(&self.role_arn)
                    .import_mode(ImportMode::Full)
                    .set_tags(Some(tags(t)?)),
                "CreateDatasetImportJob",
                dataset_import_job_arn
            ),
            ResourceSpec::Solution {
                name,
                group,
                recipe,
                perform_hpo,
                tags: t,
            } => sent!(
                self.client
                    .create_solution()
                    .name(name)
                    .dataset_group_arn(self.group_arn(group))
                    .recipe_arn(format!("arn:aws:personalize:::recipe/{recipe}"))
                    .perform_hpo(*perform_hpo)
                    // recoflow trains when a job asks; Personalize's weekly automatic training
                    // (its default for new solutions) would cost without being asked for.
                    .perform_auto_training(false)
                    .set_tags(Some(tags(t)?)),
                "CreateSolution",
                solution_arn
            ),
            ResourceSpec::SolutionVersion {
                name,
                solution,
                training_mode,
                tags: t,
                ..
            } => sent!(
                self.client
                    .create_solution_version()
                    .name(name)
                    .solution_arn(self.solution_arn(solution))
                    .training_mode(match training_mode {
                        TrainingMode::Full => SdkTrainingMode::Full,
                        TrainingMode::Update => SdkTrainingMode::Update,
                    })
                    .set_tags(Some(tags(t)?)),
                "CreateSolutionVersion",
                solution_version_arn
            ),
            ResourceSpec::BatchInferenceJob {
                name,
                solution_version_arn,
                input,
                output,
                num_results,
                tags: t,
            } => sent!(
                self.client
                    .create_batch_inference_job()
                    .job_name(name)
                    .solution_version_arn(solution_version_arn)
                    .num_results(*num_results as i32)
                    .job_input(
                        BatchInferenceJobInput::builder()
                            .s3_data_source(s3_path(input)?)
                            .build()
                    )
                    .job_output(
                        BatchInferenceJobOutput::builder()
                            .s3_data_destination(s3_path(output)?)
                            .build()
                    )
                    .role_arn(&self.role_arn)
                    .set_tags(Some(tags(t)?)),
                "CreateBatchInferenceJob",
                batch_inference_job_arn
            ),
            ResourceSpec::BatchSegmentJob {
                name,
                solution_version_arn,
                input,
                output,
                num_results,
                tags: t,
            } => sent!(
                self.client
                    .create_batch_segment_job()
                    .job_name(name)
                    .solution_version_arn(solution_version_arn)
                    .num_results(i32::try_from(*num_results).unwrap_or(i32::MAX))
                    .job_input(
                        BatchSegmentJobInput::builder()
                            .s3_data_source(s3_path(input)?)
                            .build()
                    )
                    .job_output(
                        BatchSegmentJobOutput::builder()
                            .s3_data_destination(s3_path(output)?)
                            .build()
                    )
                    .role_arn(&self.role_arn)
                    .set_tags(Some(tags(t)?)),
                "CreateBatchSegmentJob",
                batch_segment_job_arn
            ),
            ResourceSpec::TrainingJob(_) | ResourceSpec::ProcessingJob(_) => Err(CreateError::Invalid(
                format!("{:?} is not a Personalize resource", spec.kind()),
            )),
        }
    }
}

/// A batch job's input or output location.
fn s3_path(path: &str) -> Result<S3DataConfig, CreateError> {
    S3DataConfig::builder()
        .path(path)
        .build()
        .map_err(|e| CreateError::Invalid(e.to_string()))
}

fn tags(tags: &[recoflow_core::launch::Tag]) -> Result<Vec<Tag>, CreateError> {
    tags.iter()
        .map(|t| {
            Tag::builder()
                .tag_key(&t.key)
                .tag_value(&t.value)
                .build()
                .map_err(|e| CreateError::Invalid(e.to_string()))
        })
        .collect()
}

fn is_not_found<E: ProvideErrorMetadata, R>(err: &SdkError<E, R>) -> bool {
    error_code(err) == Some("ResourceNotFoundException")
}

/// What a refused create call means for the runner.
fn refused_create<E, R>(operation: &'static str, err: &SdkError<E, R>) -> Result<CreateOutcome, CreateError>
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match error_code(err) {
        // A rerun (or a retried launch) finds what it created before: adopt it.
        Some("ResourceAlreadyExistsException") => Ok(CreateOutcome::AlreadyExists),
        // Over a limit, throttled, or a parent not ACTIVE yet: the next look tries again.
        Some("LimitExceededException" | "ThrottlingException" | "ResourceInUseException") => {
            Err(CreateError::Refused(error_text(err)))
        }
        Some("InvalidInputException" | "ResourceNotFoundException" | "AccessDeniedException") => {
            Err(CreateError::Invalid(error_text(err)))
        }
        _ => Err(CreateError::Service(service_error("Personalize", operation, err))),
    }
}

/// Counts the jobs of one kind that are being created, over every page.
macro_rules! count_in_progress {
    ($self:ident, $list:ident, $items:ident, $op:literal, |$summary:ident| $name:expr) => {{
        let mut names = Vec::new();
        let mut pages = $self.client.$list().max_results(100).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("Personalize", $op, &e))?;
            for $summary in page.$items() {
                if $summary.status().is_some_and(|s| IN_PROGRESS.contains(&s)) {
                    names.push($name);
                }
            }
        }
        names
    }};
}

#[async_trait]
impl MlService for PersonalizeService {
    async fn in_progress(
        &self,
        pool: &Pool,
        recoflow_prefixes: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError> {
        let names: Vec<String> = match pool {
            Pool::PersonalizeImports => count_in_progress!(
                self,
                list_dataset_import_jobs,
                dataset_import_jobs,
                "ListDatasetImportJobs",
                |s| s.job_name().unwrap_or_default().to_owned()
            ),
            Pool::PersonalizeBatchInference => count_in_progress!(
                self,
                list_batch_inference_jobs,
                batch_inference_jobs,
                "ListBatchInferenceJobs",
                |s| s.job_name().unwrap_or_default().to_owned()
            ),
            Pool::PersonalizeBatchSegments => count_in_progress!(
                self,
                list_batch_segment_jobs,
                batch_segment_jobs,
                "ListBatchSegmentJobs",
                |s| s.job_name().unwrap_or_default().to_owned()
            ),
            Pool::PersonalizeSolutionVersions => {
                // Summaries carry no name: each running version is described for it.
                let arns = count_in_progress!(
                    self,
                    list_solution_versions,
                    solution_versions,
                    "ListSolutionVersions",
                    |s| s.solution_version_arn().unwrap_or_default().to_owned()
                );
                let mut names = Vec::with_capacity(arns.len());
                for arn in arns {
                    let name = match self
                        .client
                        .describe_solution_version()
                        .solution_version_arn(&arn)
                        .send()
                        .await
                    {
                        Ok(output) => output
                            .solution_version()
                            .and_then(|v| v.name())
                            .unwrap_or(&arn)
                            .to_owned(),
                        Err(err) if is_not_found(&err) => continue,
                        Err(err) => {
                            return Err(service_error("Personalize", "DescribeSolutionVersion", &err))
                        }
                    };
                    names.push(name);
                }
                names
            }
            _ => Vec::new(),
        };
        Ok(names
            .into_iter()
            .filter(|name| !has_prefix(name, recoflow_prefixes))
            .map(|name| ServiceJob { name, units: 1 })
            .collect())
    }

    async fn describe(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ServiceError> {
        let arn = match (self.spec_arn(spec), spec) {
            (Some(arn), _) => arn,
            (None, ResourceSpec::SolutionVersion { name, solution, .. }) => {
                match self.find_solution_version(solution, name).await? {
                    Some(arn) => arn,
                    None => return Ok(None),
                }
            }
            (None, _) => return Ok(None),
        };
        self.describe_arn(spec.kind(), &arn).await
    }

    async fn create(&self, spec: &ResourceSpec) -> Result<CreateOutcome, CreateError> {
        self.create_resource(spec).await
    }

    async fn observe(&self, resource: &LaunchedResource) -> Result<Option<Observed>, ServiceError> {
        // Named resources' ARNs follow from their names; the others' were recorded at launch.
        let by_name = |kind: &str| self.arn(&format!("{kind}/{}", resource.name));
        let arn = match (resource.arn.clone(), resource.kind) {
            (Some(arn), _) => arn,
            (None, ResourceKind::DatasetGroup) => by_name("dataset-group"),
            (None, ResourceKind::Schema) => by_name("schema"),
            (None, ResourceKind::DatasetImportJob) => by_name("dataset-import-job"),
            (None, ResourceKind::Solution) => by_name("solution"),
            (None, ResourceKind::BatchInferenceJob) => by_name("batch-inference-job"),
            (None, ResourceKind::BatchSegmentJob) => by_name("batch-segment-job"),
            (None, _) => return Ok(None),
        };
        self.describe_arn(resource.kind, &arn).await
    }

    async fn stop(&self, resource: &LaunchedResource) -> Result<(), ServiceError> {
        // Only solution versions can be stopped; import, batch inference and batch segment jobs
        // run to their end (Personalize has no call to stop them).
        if resource.kind != ResourceKind::SolutionVersion {
            return Ok(());
        }
        let Some(arn) = &resource.arn else { return Ok(()) };
        match self
            .client
            .stop_solution_version_creation()
            .solution_version_arn(arn)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Not in a stoppable state (finished, or stopping already).
            Err(err)
                if matches!(
                    error_code(&err),
                    Some("ResourceInUseException" | "InvalidInputException" | "ResourceNotFoundException")
                ) =>
            {
                Ok(())
            }
            Err(err) => Err(service_error("Personalize", "StopSolutionVersionCreation", &err)),
        }
    }
}
