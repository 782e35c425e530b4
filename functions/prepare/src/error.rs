//! What Prepare can fail with: a data file missing or unusable, a segment of nobody (each
//! naming the file, column or segment), a segment too large for the parts the deployment
//! allows, or a job-level failure shared with the other steps.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};
use recoflow_core::scoring_parts::MAX_SCORING_PARTS;

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
    #[error(
        "the {users} users to score need {parts} parts of ScoringPartUsers = {part_users} users, more than the {MAX_SCORING_PARTS} parts a job may have: raise the stack parameter ScoringPartUsers to at least {}",
        users.div_ceil(MAX_SCORING_PARTS)
    )]
    TooManyParts { users: u64, parts: u64, part_users: u64 },
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
            // The deployment's part size is too small for this segment.
            PrepareError::TooManyParts { .. } => ErrorName::ConfigurationInvalid,
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
