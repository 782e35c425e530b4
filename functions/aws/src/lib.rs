//! The AWS side of recoflow: SDK adapters for the ports of `recoflow-core`, one Cargo feature
//! per service so each function links only the SDKs it calls, and the Lambda runtime glue.
//! One client per process: each function's `main` builds them once.

pub mod lambda;

#[cfg(feature = "cloudwatch")]
mod cloudwatch;
#[cfg(feature = "dynamodb")]
mod dynamodb;
#[cfg(feature = "dynamodb")]
mod events;
#[cfg(feature = "firehose")]
mod firehose;
#[cfg(feature = "dynamodb")]
mod folds;
#[cfg(feature = "dynamodb")]
mod monitoring;
#[cfg(feature = "personalize")]
mod personalize;
#[cfg(feature = "dynamodb")]
mod placements;
#[cfg(feature = "dynamodb")]
mod recommendations;
#[cfg(feature = "dynamodb")]
mod record_table;
#[cfg(feature = "s3")]
mod s3;
#[cfg(feature = "sagemaker")]
mod sagemaker;
#[cfg(feature = "scheduler")]
mod scheduler;
#[cfg(feature = "dynamodb")]
mod schedules;
#[cfg(feature = "secretsmanager")]
mod secrets;
#[cfg(feature = "sfn")]
mod sfn;
#[cfg(feature = "slack")]
mod slack;
#[cfg(feature = "dynamodb")]
mod slots;
#[cfg(feature = "ssm")]
mod ssm;
#[cfg(feature = "sfn")]
mod trigger_checks;
#[cfg(feature = "dynamodb")]
mod triggers;
#[cfg(feature = "dynamodb")]
mod versions;

#[cfg(feature = "cloudwatch")]
pub use cloudwatch::CloudWatchMetrics;
#[cfg(feature = "dynamodb")]
pub use dynamodb::DynamoJobStore;
#[cfg(feature = "dynamodb")]
pub use events::{DynamoAggregates, DynamoEventLedger};
#[cfg(feature = "firehose")]
pub use firehose::FirehoseRawEvents;
#[cfg(feature = "dynamodb")]
pub use folds::DynamoFolds;
#[cfg(feature = "dynamodb")]
pub use monitoring::DynamoMonitoringLog;
#[cfg(feature = "personalize")]
pub use personalize::PersonalizeService;
#[cfg(feature = "dynamodb")]
pub use placements::DynamoPlacements;
#[cfg(feature = "dynamodb")]
pub use recommendations::DynamoRecommendations;
#[cfg(feature = "s3")]
pub use s3::S3Objects;
#[cfg(feature = "sagemaker")]
pub use sagemaker::SageMakerService;
#[cfg(feature = "scheduler")]
pub use scheduler::{EventBridgeScheduler, SchedulerTarget};
#[cfg(feature = "dynamodb")]
pub use schedules::DynamoScheduleStore;
#[cfg(feature = "secretsmanager")]
pub use secrets::SecretsManagerKeys;
#[cfg(feature = "sfn")]
pub use sfn::{SfnExecutionLookup, SfnExecutions, SfnTaskCallbacks};
#[cfg(feature = "slack")]
pub use slack::HttpsPoster;
#[cfg(feature = "dynamodb")]
pub use slots::DynamoSlotStore;
#[cfg(feature = "ssm")]
pub use ssm::{SsmQuotaLimits, SsmSecret};
#[cfg(feature = "dynamodb")]
pub use triggers::DynamoTriggerStore;

/// The SDK clients, built once per process in each function's `main`.
pub mod clients {
    #[cfg(feature = "cloudwatch")]
    pub use aws_sdk_cloudwatch::Client as CloudWatch;
    #[cfg(feature = "dynamodb")]
    pub use aws_sdk_dynamodb::Client as DynamoDb;
    #[cfg(feature = "firehose")]
    pub use aws_sdk_firehose::Client as Firehose;
    #[cfg(feature = "personalize")]
    pub use aws_sdk_personalize::Client as Personalize;
    #[cfg(feature = "sagemaker")]
    pub use aws_sdk_sagemaker::Client as SageMaker;
    #[cfg(feature = "scheduler")]
    pub use aws_sdk_scheduler::Client as Scheduler;
    #[cfg(feature = "secretsmanager")]
    pub use aws_sdk_secretsmanager::Client as SecretsManager;
    #[cfg(feature = "sfn")]
    pub use aws_sdk_sfn::Client as StepFunctions;
    #[cfg(feature = "ssm")]
    pub use aws_sdk_ssm::Client as Ssm;
}

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::display::DisplayErrorContext;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;
use recoflow_core::errors::ServiceError;

/// Shared SDK configuration: region, credentials and `AWS_ENDPOINT_URL` from the environment;
/// standard retries (bounded, exponential backoff with jitter).
pub async fn load_sdk_config() -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .retry_config(RetryConfig::standard().with_max_attempts(4))
        .load()
        .await
}

const THROTTLING_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "ProvisionedThroughputExceededException",
    "RequestLimitExceeded",
    "TooManyRequestsException",
    "SlowDown",
];

/// The service's error code, if it sent one.
pub(crate) fn error_code<E, R>(err: &SdkError<E, R>) -> Option<&str>
where
    E: ProvideErrorMetadata,
{
    err.as_service_error().and_then(|e| e.code())
}

/// `Code: message` of a service error, else the SDK's own description (timeouts, DNS, ...).
pub(crate) fn error_text<E, R>(err: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match err.as_service_error().map(|e| (e.code(), e.message())) {
        Some((Some(code), Some(message))) => format!("{code}: {message}"),
        Some((Some(code), None)) => code.to_owned(),
        _ => DisplayErrorContext(err).to_string(),
    }
}

/// Maps any SDK error to a [`ServiceError`], keeping the service's code and message but never
/// request payloads.
pub(crate) fn service_error<E, R>(
    service: &'static str,
    operation: &'static str,
    err: &SdkError<E, R>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let message = error_text(err);
    if error_code(err).is_some_and(|code| THROTTLING_CODES.contains(&code)) {
        ServiceError::Throttled {
            service,
            operation,
            message,
        }
    } else {
        ServiceError::Failed {
            service,
            operation,
            message,
        }
    }
}

/// Unix seconds now.
pub(crate) fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}
