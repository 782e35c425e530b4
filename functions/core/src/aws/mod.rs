//! SDK adapters for the ports. One client per process: `main` builds them once.

mod dynamodb;
mod s3;
mod sfn;

pub use dynamodb::DynamoJobStore;
pub use s3::S3Objects;
pub use sfn::SfnExecutions;

use aws_config::retry::RetryConfig;
use aws_config::{BehaviorVersion, SdkConfig};
use aws_sdk_dynamodb::error::ProvideErrorMetadata;

use crate::errors::ServiceError;

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

/// Maps any SDK error to a [`ServiceError`], keeping the service's code and message but never
/// request payloads. (Every SDK crate re-exports the same smithy `SdkError`, so the DynamoDB
/// crate's path serves S3 and Step Functions errors too.)
pub(crate) fn service_error<E>(
    service: &'static str,
    operation: &'static str,
    err: &aws_sdk_dynamodb::error::SdkError<E>,
) -> ServiceError
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let code = err.code().unwrap_or("");
    let message = match (err.code(), err.message()) {
        (Some(code), Some(message)) => format!("{code}: {message}"),
        (Some(code), None) => code.to_owned(),
        _ => aws_sdk_dynamodb::error::DisplayErrorContext(err).to_string(),
    };
    if THROTTLING_CODES.contains(&code) {
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
