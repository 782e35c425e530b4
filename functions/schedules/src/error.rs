//! What the function can fail with, and the names its invokers see. A failed firing is
//! retried by the Scheduler (then dead-lettered); a failed end event or S3 event by Lambda's own
//! retries; a failed trigger check by its state machine's Retry.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::schedule::firing::FiringError;
use recoflow_core::trigger::check::CheckError;

#[derive(Debug, thiserror::Error)]
pub enum SchedulesError {
    #[error(transparent)]
    Firing(#[from] FiringError),
    #[error(transparent)]
    Check(#[from] CheckError),
    /// The event's job id is not a job id at all.
    #[error("job {0} does not exist")]
    InvalidJobId(String),
}

impl NamedError for SchedulesError {
    fn error_name(&self) -> ErrorName {
        match self {
            SchedulesError::Firing(FiringError::Service(err))
            | SchedulesError::Check(CheckError::Service(err)) => err.error_name(),
            // Other writers kept winning: worth retrying, like a throttled call.
            SchedulesError::Firing(FiringError::Contended(_))
            | SchedulesError::Check(CheckError::Contended(_)) => ErrorName::ServiceThrottled,
            SchedulesError::Firing(FiringError::InvalidTime(_)) => ErrorName::ConfigurationInvalid,
            SchedulesError::InvalidJobId(_) => ErrorName::JobNotFound,
        }
    }
}

impl From<ServiceError> for SchedulesError {
    fn from(err: ServiceError) -> Self {
        FiringError::Service(err).into()
    }
}
