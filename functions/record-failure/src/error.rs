//! What RecordFailure can fail with, and the names Step Functions sees.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};

#[derive(Debug, thiserror::Error)]
pub enum RecordFailureError {
    /// The input's job id is not a job id at all, so no such job can exist.
    #[error("job {0} does not exist")]
    InvalidJobId(String),
    #[error(transparent)]
    Step(#[from] StepError),
}

impl NamedError for RecordFailureError {
    fn error_name(&self) -> ErrorName {
        match self {
            RecordFailureError::InvalidJobId(_) => ErrorName::JobNotFound,
            RecordFailureError::Step(e) => e.error_name(),
        }
    }
}

impl From<ServiceError> for RecordFailureError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}

impl From<TransitionError> for RecordFailureError {
    fn from(err: TransitionError) -> Self {
        StepError::from(err).into()
    }
}
