//! What notify can fail with: the failures shared with the other steps (no such job, an AWS
//! service's trouble). Slack's own trouble is an outcome (`UNDELIVERED`), never an error.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError};

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error(transparent)]
    Step(#[from] StepError),
}

impl NamedError for NotifyError {
    fn error_name(&self) -> ErrorName {
        match self {
            NotifyError::Step(e) => e.error_name(),
        }
    }
}

impl From<ServiceError> for NotifyError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}
