//! Error names: the `error_type` every function reports to Step Functions. The state machine's
//! Retry and Catch match these strings, so they are stable, listed once here, and never a Rust
//! type name. A test holds `statemachines/*.asl.json` against this list.

use std::fmt;

/// Every error name a recoflow function raises.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ErrorName {
    /// An AWS service asked us to slow down; retried with backoff.
    ServiceThrottled,
    /// An AWS service failed or could not be reached; retried with backoff.
    ServiceUnavailable,
    /// The execution names a job the jobs table does not have.
    JobNotFound,
    /// The job's status does not allow the step (e.g. it was cancelled meanwhile).
    IllegalTransition,
    /// A data file the form names does not exist.
    DatasetMissing,
    /// A data file exists but cannot be used (columns, encoding, rows).
    DatasetInvalid,
    /// The form's segment matches no user of the users file.
    SegmentEmpty,
    /// No quota slot is free in the phase's pool; the state machine waits and retries.
    QuotaUnavailable,
    /// The service refused a launch for quota or rate (`ResourceLimitExceeded`,
    /// `LimitExceededException`, `ThrottlingException`); retried with backoff.
    LaunchRefused,
    /// The service refused a launch for good (validation, access denied, bad image).
    LaunchInvalid,
    /// A Personalize dataset import failed (its `failureReason` says why).
    ImportFailed,
    /// Training failed: the container's own error or Personalize's `failureReason`.
    TrainingFailed,
    /// Scoring failed: the scoring container or the batch inference job.
    ScoringFailed,
    /// A SageMaker job kept failing for the platform's reasons after every relaunch.
    PlatformFailed,
    /// A phase ran longer than the configured limit and was stopped.
    PhaseTimedOut,
    /// The job was cancelled while the step ran.
    JobCancelled,
    /// The deployment's configuration is unusable (e.g. the quota limits parameter).
    ConfigurationInvalid,
    /// The execution was stopped or timed out outside recoflow's own failure path.
    ExecutionStopped,
    /// The scores cannot be published: none found, or too many lines were errors.
    ScoresInvalid,
}

impl ErrorName {
    pub const ALL: [ErrorName; 19] = [
        ErrorName::ServiceThrottled,
        ErrorName::ServiceUnavailable,
        ErrorName::JobNotFound,
        ErrorName::IllegalTransition,
        ErrorName::DatasetMissing,
        ErrorName::DatasetInvalid,
        ErrorName::SegmentEmpty,
        ErrorName::QuotaUnavailable,
        ErrorName::LaunchRefused,
        ErrorName::LaunchInvalid,
        ErrorName::ImportFailed,
        ErrorName::TrainingFailed,
        ErrorName::ScoringFailed,
        ErrorName::PlatformFailed,
        ErrorName::PhaseTimedOut,
        ErrorName::JobCancelled,
        ErrorName::ConfigurationInvalid,
        ErrorName::ExecutionStopped,
        ErrorName::ScoresInvalid,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ErrorName::ServiceThrottled => "ServiceThrottled",
            ErrorName::ServiceUnavailable => "ServiceUnavailable",
            ErrorName::JobNotFound => "JobNotFound",
            ErrorName::IllegalTransition => "IllegalTransition",
            ErrorName::DatasetMissing => "DatasetMissing",
            ErrorName::DatasetInvalid => "DatasetInvalid",
            ErrorName::SegmentEmpty => "SegmentEmpty",
            ErrorName::QuotaUnavailable => "QuotaUnavailable",
            ErrorName::LaunchRefused => "LaunchRefused",
            ErrorName::LaunchInvalid => "LaunchInvalid",
            ErrorName::ImportFailed => "ImportFailed",
            ErrorName::TrainingFailed => "TrainingFailed",
            ErrorName::ScoringFailed => "ScoringFailed",
            ErrorName::PlatformFailed => "PlatformFailed",
            ErrorName::PhaseTimedOut => "PhaseTimedOut",
            ErrorName::JobCancelled => "JobCancelled",
            ErrorName::ConfigurationInvalid => "ConfigurationInvalid",
            ErrorName::ExecutionStopped => "ExecutionStopped",
            ErrorName::ScoresInvalid => "ScoresInvalid",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|n| n.as_str() == name)
    }
}

impl fmt::Display for ErrorName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An error that knows its stable name; functions turn it into their Lambda error payload.
pub trait NamedError: std::error::Error {
    fn error_name(&self) -> ErrorName;
}

/// A call to an AWS service that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The service asked us to slow down; worth retrying later.
    #[error("{service} throttled {operation}: {message}")]
    Throttled {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    #[error("{service} {operation} failed: {message}")]
    Failed {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
}

impl NamedError for ServiceError {
    fn error_name(&self) -> ErrorName {
        match self {
            ServiceError::Throttled { .. } => ErrorName::ServiceThrottled,
            ServiceError::Failed { .. } => ErrorName::ServiceUnavailable,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ErrorName::ALL {
            assert_eq!(ErrorName::parse(name.as_str()), Some(name));
            assert!(seen.insert(name.as_str()), "{name} listed twice");
        }
    }
}
