//! RecordFailure (the state machine's Catch path): writes why a job failed onto its record
//! and marks it FAILED, so `GET /jobs/{id}` says what failed and where.

use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::diagnostic;
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::job::{JobFailure, JobId, JobStatus};
use recoflow_core::ports::{JobStore, TransitionError, TransitionExtras};
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

pub struct RecordFailureDeps<J> {
    pub jobs: J,
}

/// The state input with the Catch result under `error` (`ResultPath: $.error`).
#[derive(Debug, Deserialize)]
pub struct FailedJob {
    pub job_id: String,
    pub error: CaughtError,
}

/// What Step Functions puts in a Catch result.
#[derive(Debug, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Recorded {
    pub job_id: String,
    pub error: String,
    pub cause: String,
}

#[derive(Debug, thiserror::Error)]
pub enum RecordFailureError {
    #[error("job {0} does not exist")]
    JobNotFound(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for RecordFailureError {
    fn error_name(&self) -> ErrorName {
        match self {
            RecordFailureError::JobNotFound(_) => ErrorName::JobNotFound,
            RecordFailureError::Service(e) => e.error_name(),
        }
    }
}

impl From<RecordFailureError> for Diagnostic {
    fn from(err: RecordFailureError) -> Self {
        diagnostic(err.error_name(), &err)
    }
}

/// A Lambda error's Cause is its JSON payload; keep just the message a person should read.
fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

pub async fn handle<J: JobStore>(
    deps: &RecordFailureDeps<J>,
    input: FailedJob,
) -> Result<Recorded, RecordFailureError> {
    let job_id =
        JobId::parse(&input.job_id).ok_or_else(|| RecordFailureError::JobNotFound(input.job_id.clone()))?;
    let span = tracing::info_span!("record_failure", job_id = %job_id);
    async {
        let record = deps
            .jobs
            .get(&job_id)
            .await?
            .ok_or_else(|| RecordFailureError::JobNotFound(job_id.to_string()))?;
        let cause = readable_cause(&input.error.cause);
        let failure = JobFailure {
            error: input.error.error.clone(),
            cause: cause.clone(),
            state: record.status.to_string(),
        };
        let detail = format!("{} while {}: {}", failure.error, record.status, cause);
        match deps
            .jobs
            .transition(
                &job_id,
                JobStatus::Failed,
                &detail,
                TransitionExtras {
                    failure: Some(failure),
                    ..TransitionExtras::default()
                },
            )
            .await
        {
            Ok(()) => info!(error = %input.error.error, "job marked FAILED"),
            // Already finished (e.g. this state retried after its write landed): keep the first word.
            Err(TransitionError::Illegal { from, .. }) => {
                info!(status = %from, "job already finished; left as is")
            }
            Err(TransitionError::NotFound(id)) => {
                return Err(RecordFailureError::JobNotFound(id.to_string()))
            }
            Err(TransitionError::Service(e)) => return Err(e.into()),
        }
        Ok(Recorded {
            job_id: job_id.to_string(),
            error: input.error.error,
            cause,
        })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::FakeJobStore;

    fn deps_with_queued_job() -> (RecordFailureDeps<FakeJobStore>, JobId) {
        let form = recoflow_core::fakes::test_form("personalize");
        let deps = RecordFailureDeps {
            jobs: FakeJobStore::default(),
        };
        let job_id = deps.jobs.insert_queued("job-1", form);
        (deps, job_id)
    }

    fn caught(job_id: &JobId) -> FailedJob {
        serde_json::from_value(serde_json::json!({
            "job_id": job_id,
            "error": {
                "Error": "DatasetMissing",
                "Cause": "{\"errorType\":\"DatasetMissing\",\"errorMessage\":\"dataset.interactions: s3://data/i.csv does not exist\"}"
            }
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn failure_is_recorded_with_a_readable_cause() {
        let (deps, job_id) = deps_with_queued_job();
        let recorded = handle(&deps, caught(&job_id)).await.unwrap();
        assert_eq!(
            recorded.cause,
            "dataset.interactions: s3://data/i.csv does not exist"
        );
        let record = deps.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        let failure = record.failure.unwrap();
        assert_eq!(failure.error, "DatasetMissing");
        assert_eq!(failure.state, "QUEUED");
    }

    #[tokio::test]
    async fn recording_twice_keeps_the_first_failure() {
        let (deps, job_id) = deps_with_queued_job();
        handle(&deps, caught(&job_id)).await.unwrap();
        handle(&deps, caught(&job_id)).await.unwrap();
        let record = deps.jobs.record(&job_id).unwrap();
        assert_eq!(
            record
                .history
                .iter()
                .filter(|c| c.status == JobStatus::Failed)
                .count(),
            1
        );
    }
}
