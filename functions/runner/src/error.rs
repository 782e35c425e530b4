//! How a runner step fails, by the names the state machine's Retry and Catch match.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::phase::Phase;

use crate::plan::PlanError;

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    /// The job is missing, its status change was refused, or a service call failed.
    #[error(transparent)]
    Step(#[from] StepError),
    #[error("job {job_id} is {status}: {what} stops here")]
    NotRunning {
        job_id: JobId,
        status: JobStatus,
        what: String,
    },
    #[error("{0}")]
    QuotaUnavailable(String),
    #[error("{0}")]
    LaunchRefused(String),
    #[error("{0}")]
    LaunchInvalid(String),
    #[error("{reason}")]
    PhaseFailed {
        phase: Phase,
        reason: String,
        platform: bool,
    },
    #[error("{0}")]
    PhaseTimedOut(String),
    /// The job's hold on its Personalize datasets lapsed and another job took them.
    #[error("{0}")]
    DatasetsLost(String),
    #[error("{0}")]
    Configuration(String),
}

impl RunnerError {
    pub fn job_not_found(job_id: &JobId) -> Self {
        StepError::JobNotFound(job_id.clone()).into()
    }

    /// The job left the running statuses (cancelled, failed) before `what` could happen.
    pub fn not_running(job_id: &JobId, status: JobStatus, what: &str) -> Self {
        RunnerError::NotRunning {
            job_id: job_id.clone(),
            status,
            what: what.to_owned(),
        }
    }
}

impl From<ServiceError> for RunnerError {
    fn from(err: ServiceError) -> Self {
        StepError::from(err).into()
    }
}

impl From<TransitionError> for RunnerError {
    fn from(err: TransitionError) -> Self {
        StepError::from(err).into()
    }
}

impl From<PlanError> for RunnerError {
    fn from(err: PlanError) -> Self {
        RunnerError::Configuration(err.to_string())
    }
}

impl NamedError for RunnerError {
    fn error_name(&self) -> ErrorName {
        match self {
            RunnerError::Step(err) => err.error_name(),
            RunnerError::NotRunning {
                status: JobStatus::Cancelled,
                ..
            } => ErrorName::JobCancelled,
            RunnerError::NotRunning { .. } => ErrorName::IllegalTransition,
            RunnerError::QuotaUnavailable(_) => ErrorName::QuotaUnavailable,
            RunnerError::LaunchRefused(_) => ErrorName::LaunchRefused,
            RunnerError::LaunchInvalid(_) => ErrorName::LaunchInvalid,
            RunnerError::PhaseFailed { platform: true, .. } => ErrorName::PlatformFailed,
            RunnerError::PhaseFailed { phase, .. } => match phase {
                Phase::Import => ErrorName::ImportFailed,
                Phase::Train => ErrorName::TrainingFailed,
                Phase::Score => ErrorName::ScoringFailed,
            },
            RunnerError::PhaseTimedOut(_) => ErrorName::PhaseTimedOut,
            // The data the training needs may no longer be the job's: its import is undone.
            RunnerError::DatasetsLost(_) => ErrorName::ImportFailed,
            RunnerError::Configuration(_) => ErrorName::ConfigurationInvalid,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_level_failures_keep_the_shared_names() {
        let job_id = JobId::parse("weekly-1").unwrap();
        let illegal = TransitionError::Illegal {
            job_id: job_id.clone(),
            from: JobStatus::Failed,
            to: JobStatus::Training,
        };
        let throttled = ServiceError::Throttled {
            service: "DynamoDB",
            operation: "UpdateItem",
            message: "slow down".into(),
        };
        let cases = [
            (RunnerError::job_not_found(&job_id), ErrorName::JobNotFound),
            (
                TransitionError::NotFound(job_id.clone()).into(),
                ErrorName::JobNotFound,
            ),
            (illegal.into(), ErrorName::IllegalTransition),
            (throttled.into(), ErrorName::ServiceThrottled),
            (
                RunnerError::not_running(&job_id, JobStatus::Cancelled, "launching"),
                ErrorName::JobCancelled,
            ),
            (
                RunnerError::not_running(&job_id, JobStatus::Failed, "launching"),
                ErrorName::IllegalTransition,
            ),
        ];
        for (err, name) in cases {
            assert_eq!(err.error_name(), name, "{err}");
        }
    }
}
