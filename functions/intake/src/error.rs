//! What intake can fail with: only a service's trouble (a bad form is an outcome, not an
//! error), which fails the invocation so Lambda retries it.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError};

#[derive(Debug, thiserror::Error)]
pub enum IntakeError {
    #[error(transparent)]
    Step(#[from] StepError),
}

impl NamedError for IntakeError {
    fn error_name(&self) -> ErrorName {
        match self {
            IntakeError::Step(e) => e.error_name(),
        }
    }
}

impl From<ServiceError> for IntakeError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}
