//! What Prepare can fail with: a data file missing or unusable, a segment of nobody (each
//! naming the file, column or segment), or a job-level failure shared with the other steps.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("{field}: {uri} does not exist or cannot be read")]
    DatasetMissing { field: String, uri: String },
    #[error("{field}: {uri} {reason}")]
    DatasetInvalid {
        field: String,
        uri: String,
        reason: String,
    },
    #[error("the segment ({segment}) matches none of the {rows} users in {uri}; nothing was launched")]
    SegmentEmpty { segment: String, rows: u64, uri: String },
    #[error(transparent)]
    Step(#[from] StepError),
}

impl PrepareError {
    pub fn missing(field: &str, uri: &str) -> Self {
        PrepareError::DatasetMissing {
            field: field.to_owned(),
            uri: uri.to_owned(),
        }
    }

    pub fn invalid(field: &str, uri: &str, reason: String) -> Self {
        PrepareError::DatasetInvalid {
            field: field.to_owned(),
            uri: uri.to_owned(),
            reason,
        }
    }
}

impl NamedError for PrepareError {
    fn error_name(&self) -> ErrorName {
        match self {
            PrepareError::DatasetMissing { .. } => ErrorName::DatasetMissing,
            PrepareError::DatasetInvalid { .. } => ErrorName::DatasetInvalid,
            PrepareError::SegmentEmpty { .. } => ErrorName::SegmentEmpty,
            PrepareError::Step(e) => e.error_name(),
        }
    }
}

impl From<ServiceError> for PrepareError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}

impl From<TransitionError> for PrepareError {
    fn from(err: TransitionError) -> Self {
        StepError::from(err).into()
    }
}
