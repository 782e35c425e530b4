//! The sweep (an EventBridge schedule): the safety net behind the clean-up rule. A job whose
//! execution ended without its failure path running (the execution was stopped or timed out)
//! is closed by the EventBridge rule's clean-up; when that event is lost (or dead-lettered
//! after its retries), the job would show as running forever and hold its slots. The sweep
//! looks at the jobs submitted within `sweep_lookback_hours` that still show as running,
//! asks Step Functions how their executions stand, and cleans up after those that ended.

use recoflow_core::clock::Clock;
use recoflow_core::job::{JobId, JobRecord};
use recoflow_core::ports::{ExecutionLookup, JobStore};
use tracing::{info, warn};

use crate::cleanup::cleanup;
use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::step::RunnerOutput;

/// Jobs read per page of the newest-first listing.
const PAGE: u32 = 100;

pub async fn sweep<P: RunnerPorts>(ports: &P) -> Result<RunnerOutput, RunnerError> {
    let lookback = std::time::Duration::from_secs(u64::from(ports.settings().sweep_lookback_hours) * 3600);
    let oldest = recoflow_core::clock::rfc3339(ports.clock().utc() - lookback);
    let (mut looked_at, mut closed, mut after) = (0, Vec::new(), None);
    loop {
        let (jobs, next) = ports.jobs().recent(PAGE, after.as_ref()).await?;
        let reached_the_end = next.is_none() || jobs.iter().any(|j| j.created_at < oldest);
        for record in jobs
            .iter()
            .filter(|j| j.created_at >= oldest && j.status.is_running())
        {
            looked_at += 1;
            if let Some(job_id) = close_if_ended(ports, record).await? {
                closed.push(job_id);
            }
        }
        if reached_the_end {
            break;
        }
        after = next;
    }
    info!(looked_at, closed = closed.len(), "sweep done");
    Ok(RunnerOutput::Swept { looked_at, closed })
}

/// Cleans up after a running job whose execution has ended; its id if it did.
async fn close_if_ended<P: RunnerPorts>(ports: &P, record: &JobRecord) -> Result<Option<JobId>, RunnerError> {
    // Not started yet: the submission path (or its retry) starts it.
    let Some(arn) = &record.execution_arn else {
        return Ok(None);
    };
    let status = ports.executions().execution_status(arn).await?;
    match status.as_deref() {
        Some("RUNNING") => Ok(None),
        // Said on the record, so the job's history tells the sweep's doing from the rule's.
        Some(ended) => {
            warn!(job_id = %record.job_id, status = ended, "execution ended without closing the job; cleaning up");
            cleanup(
                ports,
                &record.job_id,
                Some(&format!("{ended} (found by the sweep)")),
            )
            .await?;
            Ok(Some(record.job_id.clone()))
        }
        None => {
            warn!(job_id = %record.job_id, "the job's execution does not exist; cleaning up");
            cleanup(ports, &record.job_id, Some("NOT_FOUND (found by the sweep)")).await?;
            Ok(Some(record.job_id.clone()))
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::job::JobStatus;
    use recoflow_core::ports::{Executions, JobPatch};
    use recoflow_core::quota::SlotHolder;

    use super::*;
    use crate::fake::{prepared_job, training_pool, FakeRunnerPorts, LIMITS};

    /// A training job with its slot and a started execution.
    async fn running(ports: &FakeRunnerPorts, id: &str) -> JobId {
        let job_id = prepared_job(ports, id, "container").await;
        ports.jobs.force_status(&job_id, JobStatus::Training);
        let start = ports.executions.start_execution(&job_id, "{}").await.unwrap();
        let recoflow_core::ports::ExecutionStart::Started { execution_arn } = start else {
            panic!("{start:?}")
        };
        ports
            .jobs
            .patch(&job_id, JobPatch::ExecutionArn(execution_arn), None)
            .await
            .unwrap();
        let now = ports.clock.unix_now();
        ports.slots.insert(
            &training_pool(),
            SlotHolder::new(&job_id, recoflow_core::phase::Phase::Train, 1, now, 3600),
        );
        job_id
    }

    #[tokio::test]
    async fn a_job_whose_execution_ended_unseen_is_closed_and_its_slot_freed() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let lost = running(&ports, "lost-1").await;
        let alive = running(&ports, "alive-1").await;
        // The clean-up event of a stopped execution never came.
        let arn = ports.jobs.record(&lost).unwrap().execution_arn.unwrap();
        ports
            .executions
            .statuses
            .lock()
            .unwrap()
            .insert(arn, "ABORTED".into());

        let RunnerOutput::Swept { looked_at, closed } = sweep(&ports).await.unwrap() else {
            panic!("not a sweep")
        };
        assert_eq!((looked_at, closed), (2, vec![lost.clone()]));
        let record = ports.jobs.record(&lost).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        assert!(
            record
                .history
                .last()
                .unwrap()
                .detail
                .contains("found by the sweep"),
            "{:?}",
            record.history
        );
        assert_eq!(record.failure.unwrap().error, "ExecutionStopped");
        assert_eq!(ports.jobs.record(&alive).unwrap().status, JobStatus::Training);
        assert_eq!(
            ports.slots.state(&training_pool()).used,
            1,
            "only the live job's slot is left"
        );

        // A second sweep finds nothing more to do.
        let RunnerOutput::Swept { closed, .. } = sweep(&ports).await.unwrap() else {
            panic!("not a sweep")
        };
        assert!(closed.is_empty());
    }

    #[tokio::test]
    async fn jobs_older_than_the_lookback_are_left_alone() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let old = running(&ports, "old-1").await;
        let arn = ports.jobs.record(&old).unwrap().execution_arn.unwrap();
        ports
            .executions
            .statuses
            .lock()
            .unwrap()
            .insert(arn, "TIMED_OUT".into());
        ports.clock.advance(std::time::Duration::from_secs(25 * 3600));
        let RunnerOutput::Swept { looked_at, .. } = sweep(&ports).await.unwrap() else {
            panic!("not a sweep")
        };
        assert_eq!(looked_at, 0);
        assert_eq!(ports.jobs.record(&old).unwrap().status, JobStatus::Training);
    }
}
