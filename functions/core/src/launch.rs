//! What the runner asks SageMaker and Personalize to create, and what it sees of it afterwards,
//! in terms free of any SDK. The adapters in `recoflow-aws` translate these to API calls.

use std::collections::BTreeMap;

use crate::errors::ServiceError;
use crate::form::TrainingMode;
use crate::phase::{ResourceKind, ResourceState};

/// Tags put on everything a job launches, for cost allocation and the console.
pub const TAG_JOB_ID: &str = "recoflow:job-id";
pub const TAG_RESULT_SET: &str = "recoflow:result-set";
pub const TAG_SUBMITTED_BY: &str = "recoflow:submitted-by";

#[derive(Debug, Clone, PartialEq)]
pub struct Tag {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq)]
pub struct TrainingJobSpec {
    pub name: String,
    pub image: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub max_runtime_seconds: u32,
    pub hyperparameters: BTreeMap<String, String>,
    /// (channel name, S3 URI of the file or prefix)
    pub channels: Vec<(String, String)>,
    /// SageMaker writes `<output_path>/<job name>/output/model.tar.gz`.
    pub output_path: String,
    /// No network access for the container (SageMaker's `EnableNetworkIsolation`).
    pub network_isolation: bool,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingInput {
    pub name: String,
    pub s3_uri: String,
    pub local_path: String,
    /// Each instance gets its share of the objects (`ShardedByS3Key`), else all of them.
    pub sharded: bool,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ProcessingJobSpec {
    pub name: String,
    pub image: String,
    pub instance_type: String,
    pub instance_count: u32,
    pub max_runtime_seconds: u32,
    pub arguments: Vec<String>,
    pub inputs: Vec<ProcessingInput>,
    /// (local path, S3 URI) of the one output.
    pub output: (String, String),
    /// No network access for the container (`NetworkConfig.EnableNetworkIsolation`).
    pub network_isolation: bool,
    pub tags: Vec<Tag>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DatasetType {
    Interactions,
    Users,
    Items,
}

impl DatasetType {
    /// Personalize's spelling (`datasetType`, and the last part of a dataset's ARN).
    pub fn as_str(self) -> &'static str {
        match self {
            DatasetType::Interactions => "INTERACTIONS",
            DatasetType::Users => "USERS",
            DatasetType::Items => "ITEMS",
        }
    }

    pub fn for_field(field: &str) -> Option<Self> {
        match field {
            "dataset.interactions" => Some(DatasetType::Interactions),
            "dataset.users" => Some(DatasetType::Users),
            "dataset.items" => Some(DatasetType::Items),
            _ => None,
        }
    }

    pub fn lowercase(self) -> &'static str {
        match self {
            DatasetType::Interactions => "interactions",
            DatasetType::Users => "users",
            DatasetType::Items => "items",
        }
    }
}

/// One resource to describe, and to create when it does not exist.
#[derive(Debug, Clone, PartialEq)]
pub enum ResourceSpec {
    TrainingJob(TrainingJobSpec),
    ProcessingJob(ProcessingJobSpec),
    DatasetGroup {
        name: String,
        tags: Vec<Tag>,
    },
    Schema {
        name: String,
        /// Avro schema JSON.
        schema: String,
    },
    Dataset {
        name: String,
        group: String,
        dataset_type: DatasetType,
        schema: String,
        tags: Vec<Tag>,
    },
    DatasetImportJob {
        name: String,
        group: String,
        dataset_type: DatasetType,
        data_location: String,
        tags: Vec<Tag>,
    },
    Solution {
        name: String,
        group: String,
        recipe: String,
        perform_hpo: bool,
        tags: Vec<Tag>,
    },
    SolutionVersion {
        name: String,
        solution: String,
        training_mode: TrainingMode,
        /// Known once created (a solution version's ARN ends in an id the service picks).
        arn: Option<String>,
        tags: Vec<Tag>,
    },
    BatchInferenceJob {
        name: String,
        solution_version_arn: String,
        input: String,
        output: String,
        num_results: u32,
        tags: Vec<Tag>,
    },
    /// The users most likely to interact with each item (or item filter) of `input`'s
    /// lines: a solution version of a USER_SEGMENTATION recipe.
    BatchSegmentJob {
        name: String,
        solution_version_arn: String,
        input: String,
        output: String,
        /// Users per input line.
        num_results: u32,
        tags: Vec<Tag>,
    },
}

impl ResourceSpec {
    pub fn name(&self) -> &str {
        match self {
            ResourceSpec::TrainingJob(spec) => &spec.name,
            ResourceSpec::ProcessingJob(spec) => &spec.name,
            ResourceSpec::DatasetGroup { name, .. }
            | ResourceSpec::Schema { name, .. }
            | ResourceSpec::Dataset { name, .. }
            | ResourceSpec::DatasetImportJob { name, .. }
            | ResourceSpec::Solution { name, .. }
            | ResourceSpec::SolutionVersion { name, .. }
            | ResourceSpec::BatchInferenceJob { name, .. }
            | ResourceSpec::BatchSegmentJob { name, .. } => name,
        }
    }

    pub fn kind(&self) -> ResourceKind {
        match self {
            ResourceSpec::TrainingJob(_) => ResourceKind::TrainingJob,
            ResourceSpec::ProcessingJob(_) => ResourceKind::ProcessingJob,
            ResourceSpec::DatasetGroup { .. } => ResourceKind::DatasetGroup,
            ResourceSpec::Schema { .. } => ResourceKind::Schema,
            ResourceSpec::Dataset { .. } => ResourceKind::Dataset,
            ResourceSpec::DatasetImportJob { .. } => ResourceKind::DatasetImportJob,
            ResourceSpec::Solution { .. } => ResourceKind::Solution,
            ResourceSpec::SolutionVersion { .. } => ResourceKind::SolutionVersion,
            ResourceSpec::BatchInferenceJob { .. } => ResourceKind::BatchInferenceJob,
            ResourceSpec::BatchSegmentJob { .. } => ResourceKind::BatchSegmentJob,
        }
    }
}

/// A resource as the service describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct Observed {
    pub arn: Option<String>,
    pub state: ResourceState,
    /// The service's reason for a failure or a stop (`FailureReason`, `failureReason`).
    pub reason: Option<String>,
    /// The failure is the platform's (internal error, no capacity), not the workload's: worth
    /// relaunching, as SageMaker Pipelines' retry policies do.
    pub platform_failure: bool,
    /// A training job's model (`ModelArtifacts.S3ModelArtifacts`).
    pub model_artifacts: Option<String>,
    /// Extra detail worth showing, e.g. SageMaker's secondary status.
    pub detail: Option<String>,
}

impl Observed {
    pub fn in_state(state: ResourceState) -> Self {
        Self {
            arn: None,
            state,
            reason: None,
            platform_failure: false,
            model_artifacts: None,
            detail: None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum CreateOutcome {
    Created {
        arn: Option<String>,
    },
    /// A resource of that name exists (a retried launch): adopt it.
    AlreadyExists,
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum CreateError {
    /// Refused for quota or rate: try again later.
    #[error("{0}")]
    Refused(String),
    /// Refused for good: the request cannot succeed as it is.
    #[error("{0}")]
    Invalid(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}
