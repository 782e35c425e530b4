//! What the Deliver step fails with, and the names Step Functions sees.

use recoflow_core::errors::{ErrorName, NamedError, ServiceError, StepError, TransitionError};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::quality::GateFailure;

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
    /// `failures`: each failed rule, as [`describe_failures`] says it.
    #[error("version {version} failed the quality gate (on_fail: fail), so it is not published: {failures}")]
    QualityGateFailed { version: String, failures: String },
    /// The state machine's input is not a step of this Deliver: an execution started by an
    /// older definition (before the delivery fanned out) reaching a newer function.
    #[error("Deliver takes a step (begin, fallbacks, file, publish) and the job id; this input is not one ({0}). An execution started before the upgrade: retry the job (POST /jobs/{{id}}/retry)")]
    TaskInvalid(String),
    /// Score files or fallback shares whose worker did not finish them (its retries spent):
    /// the version is not published from part of its lists.
    #[error("{unfinished} of {of} {what} were not delivered ({first}): their workers failed; nothing was published")]
    Incomplete {
        unfinished: usize,
        of: usize,
        what: &'static str,
        first: String,
    },
}

/// Each failed rule with its metric, value and bound, e.g. `max_change users_personalized:
/// 2000 (bound 0.2, previous 20000)`.
pub(crate) fn describe_failures(failures: &[GateFailure]) -> String {
    let described: Vec<String> = failures
        .iter()
        .map(|failure| {
            let previous = failure
                .previous
                .map(|previous| format!(", previous {previous}"))
                .unwrap_or_default();
            format!(
                "{} {}: {} (bound {}{previous})",
                failure.rule, failure.metric, failure.value, failure.bound
            )
        })
        .collect();
    described.join("; ")
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
            DeliverError::QualityGateFailed { .. } => ErrorName::QualityGateFailed,
            DeliverError::Incomplete { .. } => ErrorName::DeliveryIncomplete,
            DeliverError::TaskInvalid(_) => ErrorName::ConfigurationInvalid,
        }
    }
}
