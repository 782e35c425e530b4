//! Error names: the `error_type` every function reports to Step Functions. The state machine's
//! Retry and Catch match these strings, so they are stable, listed once here, and never a Rust
//! type name. A test holds `statemachines/*.asl.json` against this list.

use strum::{EnumIter, EnumString, IntoEnumIterator, IntoStaticStr};

use crate::job::{JobId, JobStatus};

/// Every error name a recoflow function raises. The variant's name is the error name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    EnumIter,
    EnumString,
    IntoStaticStr,
    strum::Display,
)]
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
    /// The API accepted a form but could not start its execution (and the caller cannot
    /// retry it: no idempotency key), so the job was closed.
    ExecutionNotStarted,
    /// The job failed but no error was recorded for it (its RecordFailure step failed too).
    FailureNotRecorded,
    /// The version failed the form's quality gate and the gate says `on_fail: fail`: it is
    /// written, never published.
    QualityGateFailed,
    /// A score file's delivery worker failed for good (its retries spent), so the version,
    /// written in part, was never published.
    DeliveryIncomplete,
}

impl ErrorName {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn parse(name: &str) -> Option<Self> {
        name.parse().ok()
    }

    /// Every name, in declaration order.
    pub fn all() -> impl Iterator<Item = ErrorName> {
        Self::iter()
    }

    /// Names that mean "try again shortly": a step failing with one of these is retried by
    /// the state machine with backoff (together with Lambda's own transient errors).
    pub const TRANSIENT: [ErrorName; 2] = [ErrorName::ServiceThrottled, ErrorName::ServiceUnavailable];
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

/// A refused status change.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("job {0} does not exist")]
    NotFound(JobId),
    #[error("job {job_id} cannot move from {from} to {to}")]
    Illegal {
        job_id: JobId,
        from: JobStatus,
        to: JobStatus,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What any step that reads or moves a job can fail with; each function's own error enum
/// wraps it, so the job-level failures and their names are said once.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("job {0} does not exist or has no valid form")]
    JobNotFound(JobId),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for StepError {
    fn error_name(&self) -> ErrorName {
        match self {
            StepError::JobNotFound(_) | StepError::Transition(TransitionError::NotFound(_)) => {
                ErrorName::JobNotFound
            }
            StepError::Transition(TransitionError::Illegal { .. }) => ErrorName::IllegalTransition,
            StepError::Transition(TransitionError::Service(e)) | StepError::Service(e) => e.error_name(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for name in ErrorName::all() {
            assert_eq!(ErrorName::parse(name.as_str()), Some(name));
            assert_eq!(name.to_string(), name.as_str());
            assert!(seen.insert(name.as_str()), "{name} listed twice");
        }
        assert_eq!(ErrorName::parse("NoSuchName"), None);
    }
}
