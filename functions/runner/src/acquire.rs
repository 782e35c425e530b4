//! `AcquireQuota`: takes the phase's slot before it launches anything.
//!
//! A slot is taken in the phase's pool (DynamoDB), counted against the operator's limit minus
//! what the service itself shows running outside recoflow, and only in turn: a job that finds
//! room but others waiting ahead of it waits too (`claim.rs`, `turn.rs`). No slot: the answer
//! says so (`taken: false`) and the state machine waits in `WaitForQuota` for the slot to be
//! handed over, or for its timed retry; the job shows `WAITING_FOR_QUOTA` meanwhile and nobody
//! is told, because waiting is not failing. A job that has waited through all its timed
//! retries fails with `QuotaUnavailable`.

use recoflow_core::clock::Clock;
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::phase::Phase;
use tracing::info;

use crate::claim::{claim, Claim};
use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::step::{enter, running_job, RunnerOutput};

pub async fn acquire<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError> {
    let (record, form) = running_job(ports.jobs(), job_id, "acquiring quota").await?;
    match claim(ports, &record, &form, phase, None).await? {
        Claim::Holds(detail) => {
            info!(phase = %phase, detail = %detail, "quota held");
            enter(ports.jobs(), &record, phase.status(), &detail).await?;
            Ok(RunnerOutput::slot(job_id, &detail, true))
        }
        Claim::Waits(detail) => {
            give_up_after_the_last_retry(ports, &record, &detail)?;
            info!(phase = %phase, detail = %detail, "no slot; waiting");
            enter(ports.jobs(), &record, JobStatus::WaitingForQuota, &detail).await?;
            Ok(RunnerOutput::slot(job_id, &detail, false))
        }
    }
}

/// A job that has waited through its timed retries (`QuotaWaitAttempts` wake-up timeouts)
/// fails; its place in the queue goes with its clean-up.
fn give_up_after_the_last_retry<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    detail: &str,
) -> Result<(), RunnerError> {
    if record.status != JobStatus::WaitingForQuota {
        return Ok(());
    }
    let waited = ports.clock().seconds_since(record.status_since());
    let most = ports.settings().quota_max_wait_seconds();
    if waited < most {
        return Ok(());
    }
    Err(RunnerError::QuotaUnavailable(format!(
        "no quota slot after waiting {waited} s (at most {most} s: QuotaWaitAttempts wake-up timeouts); {detail}"
    )))
}
#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::errors::{ErrorName, NamedError};
    use recoflow_core::fakes::test_form;
    use recoflow_core::quota::{ServiceJob, SlotHolder};

    use super::*;
    use crate::fake::{prepared_job, slot_answer, training_pool, FakeRunnerPorts};
    use crate::release::release;

    #[tokio::test]
    async fn a_full_pool_makes_the_job_wait_quietly_and_a_retry_never_takes_two_slots() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let first = prepared_job(&ports, "first-1", "container").await;
        let second = prepared_job(&ports, "second-1", "container").await;
        acquire(&ports, &first, Phase::Train).await.unwrap();
        // A retried acquire of the same phase is the same holder.
        let again = acquire(&ports, &first, Phase::Train).await.unwrap();
        assert!(slot_answer(&again).0);
        assert_eq!(ports.slots.state(&training_pool()).used, 1);

        for _ in 0..3 {
            let answer = acquire(&ports, &second, Phase::Train).await.unwrap();
            let (taken, detail) = slot_answer(&answer);
            assert!(!taken, "{detail}");
            assert!(
                detail.starts_with("waiting for quota in sagemaker-training:ml.m5.large: place 1 in its queue (priority normal), 1 of 1 units"),
                "{detail}"
            );
        }
        let statuses = ports.jobs.statuses(&second);
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == JobStatus::WaitingForQuota)
                .count(),
            1,
            "waiting is recorded once, not at every retry: {statuses:?}"
        );

        release(&ports, &first, Phase::Train).await.unwrap();
        release(&ports, &first, Phase::Train).await.unwrap();
        acquire(&ports, &second, Phase::Train).await.unwrap();
        assert_eq!(ports.jobs.record(&second).unwrap().status, JobStatus::Training);
        assert_eq!(ports.slots.state(&training_pool()).used, 1);
    }

    #[tokio::test]
    async fn jobs_started_outside_recoflow_count_against_the_pool() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 2}"#);
        let job_id = prepared_job(&ports, "weekly-1", "container").await;
        ports.sagemaker.external.lock().unwrap().push(ServiceJob {
            name: "a-data-scientists-notebook-job".into(),
            units: 2,
        });
        let answer = acquire(&ports, &job_id, Phase::Train).await.unwrap();
        let (taken, detail) = slot_answer(&answer);
        assert!(
            !taken && detail.contains("2 by jobs started elsewhere"),
            "{detail}"
        );
        ports.sagemaker.external.lock().unwrap().clear();
        assert!(slot_answer(&acquire(&ports, &job_id, Phase::Train).await.unwrap()).0);
    }

    #[tokio::test]
    async fn a_slot_left_by_a_dead_execution_is_reclaimed_once_its_lease_expires() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let dead = JobId::parse("dead-1").unwrap();
        let job_id = prepared_job(&ports, "weekly-1", "container").await;
        let lease_seconds = 60;
        ports.slots.insert(
            &training_pool(),
            SlotHolder::new(&dead, Phase::Train, 1, ports.clock.unix_now(), lease_seconds),
        );
        // While its lease runs, the dead execution's slot is taken.
        assert!(!slot_answer(&acquire(&ports, &job_id, Phase::Train).await.unwrap()).0);

        ports.clock.advance(Duration::from_secs(120));
        assert!(slot_answer(&acquire(&ports, &job_id, Phase::Train).await.unwrap()).0);
        let state = ports.slots.state(&training_pool());
        assert_eq!(state.used, 1);
        assert_eq!(state.holders[0].job_id, job_id);
    }

    #[tokio::test]
    async fn a_job_that_waited_through_its_timed_retries_fails() {
        let mut ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        // The first job's slot outlives the wait.
        ports.settings.lease_seconds = 100_000;
        let first = prepared_job(&ports, "first-1", "container").await;
        let second = prepared_job(&ports, "second-1", "container").await;
        acquire(&ports, &first, Phase::Train).await.unwrap();
        acquire(&ports, &second, Phase::Train).await.unwrap();
        let most = ports.settings.quota_max_wait_seconds();
        ports.clock.advance(Duration::from_secs(most - 1));
        assert!(!slot_answer(&acquire(&ports, &second, Phase::Train).await.unwrap()).0);

        // (The record's times are the wall clock's, a few milliseconds behind the fake one.)
        ports.clock.advance(Duration::from_secs(2));
        let err = acquire(&ports, &second, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);
        assert!(err.to_string().contains(&format!("(at most {most} s")), "{err}");
    }

    #[tokio::test]
    async fn a_phase_larger_than_its_pool_fails_at_once() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let mut form = test_form("container");
        form.container.as_mut().unwrap().instance_count = 3;
        let job_id = ports.jobs.insert_queued("big-1", form);
        ports.jobs.force_status(&job_id, JobStatus::Preparing);
        let err = acquire(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::LaunchInvalid);
    }
}
