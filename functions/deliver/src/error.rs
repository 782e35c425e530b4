//! What the Deliver step fails with, and the names Step Functions sees.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};
use recoflow_core::job::{JobId, JobStatus};

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("job {job_id} is {status}; it has no scores to deliver")]
    NotDeliverable { job_id: JobId, status: JobStatus },
    #[error("{0}")]
    ScoresInvalid(String),
    #[error("{field}: {uri} {reason}")]
    DatasetInvalid {
        field: String,
        uri: String,
        reason: String,
    },
}

impl DeliverError {
    pub(crate) fn job_not_found(job_id: &JobId) -> Self {
        StepError::JobNotFound(job_id.clone()).into()
    }
}

impl From<ServiceError> for DeliverError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}

impl From<TransitionError> for DeliverError {
    fn from(err: TransitionError) -> Self {
        StepError::from(err).into()
    }
}

impl NamedError for DeliverError {
    fn error_name(&self) -> ErrorName {
        match self {
            DeliverError::Step(err) => err.error_name(),
            DeliverError::NotDeliverable { status, .. } if *status == JobStatus::Cancelled => {
                ErrorName::JobCancelled
            }
            DeliverError::NotDeliverable { .. } => ErrorName::IllegalTransition,
            DeliverError::ScoresInvalid(_) => ErrorName::ScoresInvalid,
            DeliverError::DatasetInvalid { .. } => ErrorName::DatasetInvalid,
        }
    }
}
