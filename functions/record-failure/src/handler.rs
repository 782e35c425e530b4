//! RecordFailure (the state machine's Catch path): writes why a job failed onto its record
//! and marks it FAILED, so `GET /jobs/{id}` says what failed, in which status and which state.

use recoflow_core::errors::{StepError, TransitionError};
use recoflow_core::job::{JobFailure, JobId, JobStatus};
use recoflow_core::ports::{JobStore, TransitionExtras};
use recoflow_core::task::RecordFailureTask;
use serde::Serialize;
use tracing::{info, Instrument};

use crate::error::RecordFailureError;
use crate::ports::RecordFailurePorts;

#[derive(Debug, Serialize, PartialEq)]
pub struct Recorded {
    pub job_id: String,
    pub error: String,
    pub cause: String,
}

/// A Lambda error's Cause is its JSON payload; keep just the message a person should read.
fn readable_cause(cause: &str) -> String {
    serde_json::from_str::<serde_json::Value>(cause)
        .ok()
        .and_then(|v| v.get("errorMessage").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| cause.to_owned())
}

pub async fn handle<P: RecordFailurePorts>(
    ports: &P,
    task: RecordFailureTask,
) -> Result<Recorded, RecordFailureError> {
    let job_id =
        JobId::parse(&task.job_id).ok_or_else(|| RecordFailureError::InvalidJobId(task.job_id.clone()))?;
    let span = tracing::info_span!("record_failure", job_id = %job_id);
    async {
        let record = ports
            .jobs()
            .get(&job_id)
            .await?
            .ok_or_else(|| StepError::JobNotFound(job_id.clone()))?;
        let cause = readable_cause(&task.error.cause);
        let failure = JobFailure {
            error: task.error.error.clone(),
            cause: cause.clone(),
            status: Some(record.status),
            state: task.failed_state.clone(),
        };
        let detail = format!("{} while {}: {}", failure.error, record.status, cause);
        let extras = TransitionExtras {
            failure: Some(failure),
            ..TransitionExtras::default()
        };
        match ports
            .jobs()
            .transition(&job_id, JobStatus::Failed, &detail, extras)
            .await
        {
            Ok(()) => info!(error = %task.error.error, state = ?task.failed_state, "job marked FAILED"),
            // Already finished (e.g. this state retried after its write landed): keep the first word.
            Err(TransitionError::Illegal { from, .. }) => {
                info!(status = %from, "job already finished; left as is")
            }
            Err(other) => return Err(other.into()),
        }
        Ok(Recorded {
            job_id: job_id.to_string(),
            error: task.error.error,
            cause,
        })
    }
    .instrument(span)
    .await
}

#[cfg(test)]
mod tests {
    use recoflow_core::errors::{ErrorName, NamedError};
    use recoflow_core::fakes::{test_form, FakeJobStore};

    use super::*;

    struct FakeRecordFailurePorts {
        jobs: FakeJobStore,
    }

    impl RecordFailurePorts for FakeRecordFailurePorts {
        type Jobs = FakeJobStore;

        fn jobs(&self) -> &Self::Jobs {
            &self.jobs
        }
    }

    fn ports_with_queued_job() -> (FakeRecordFailurePorts, JobId) {
        let ports = FakeRecordFailurePorts {
            jobs: FakeJobStore::default(),
        };
        let job_id = ports.jobs.insert_queued("job-1", test_form("personalize"));
        (ports, job_id)
    }

    /// What the Prepare state's Catch hands RecordFailure.
    fn caught(job_id: &str) -> RecordFailureTask {
        serde_json::from_value(serde_json::json!({
            "job_id": job_id,
            "error": {
                "Error": "DatasetMissing",
                "Cause": "{\"errorType\":\"DatasetMissing\",\"errorMessage\":\"dataset.interactions: s3://data/i.csv does not exist\"}"
            },
            "failed_state": "Prepare"
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn failure_is_recorded_with_a_readable_cause() {
        let (ports, job_id) = ports_with_queued_job();
        let recorded = handle(&ports, caught(job_id.as_str())).await.unwrap();
        assert_eq!(
            recorded.cause,
            "dataset.interactions: s3://data/i.csv does not exist"
        );
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        let failure = record.failure.unwrap();
        assert_eq!(failure.error, "DatasetMissing");
        assert_eq!(failure.status, Some(JobStatus::Queued));
        assert_eq!(failure.state.as_deref(), Some("Prepare"));
    }

    #[tokio::test]
    async fn without_a_failed_state_the_status_alone_is_recorded() {
        let (ports, job_id) = ports_with_queued_job();
        let mut task = caught(job_id.as_str());
        task.failed_state = None;
        handle(&ports, task).await.unwrap();
        let failure = ports.jobs.record(&job_id).unwrap().failure.unwrap();
        assert_eq!((failure.status, failure.state), (Some(JobStatus::Queued), None));
    }

    #[tokio::test]
    async fn recording_twice_keeps_the_first_failure() {
        let (ports, job_id) = ports_with_queued_job();
        handle(&ports, caught(job_id.as_str())).await.unwrap();
        handle(&ports, caught(job_id.as_str())).await.unwrap();
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(
            record
                .history
                .iter()
                .filter(|c| c.status == JobStatus::Failed)
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn an_unknown_or_malformed_job_is_job_not_found() {
        let (ports, _) = ports_with_queued_job();
        let unknown = handle(&ports, caught("job-2")).await.unwrap_err();
        assert_eq!(unknown.error_name(), ErrorName::JobNotFound);
        let malformed = handle(&ports, caught("../x")).await.unwrap_err();
        assert_eq!(malformed.error_name(), ErrorName::JobNotFound);
        assert_eq!(malformed.to_string(), "job ../x does not exist");
    }
}
