//! `WaitForQuota` (a callback state, `lambda:invoke.waitForTaskToken`): the job takes its place
//! in the queue of the pool it waits for, with the state's task token, and the state waits.
//! Whoever frees units serves the queue and sends the token once the units are held for the
//! job (`hand_over.rs`); the state then goes back to `AcquireQuota`, which finds them held.
//! Its timeout (`QuotaWakeUpTimeoutSeconds`) goes back to `AcquireQuota` too: the timed retry
//! that catches a lost wake-up, a lease that ran out, and units freed by jobs started outside
//! recoflow, which nobody releases.

use recoflow_core::job::JobId;
use recoflow_core::phase::Phase;
use recoflow_core::ports::{Callback, TaskCallbacks};
use recoflow_core::task::TaskToken;
use serde_json::json;
use tracing::{info, warn};

use crate::claim::{claim, Claim};
use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::step::{running_job, RunnerOutput};

pub async fn wait_for_quota<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
    token: &TaskToken,
) -> Result<RunnerOutput, RunnerError> {
    let (record, form) = running_job(ports.jobs(), job_id, "waiting for quota").await?;
    match claim(ports, &record, &form, phase, Some(token)).await? {
        Claim::Waits(detail) => {
            info!(phase = %phase, detail = %detail, "waiting in the queue");
            Ok(RunnerOutput::done(job_id, &detail))
        }
        // Freed between AcquireQuota's look and this one: go on at once.
        Claim::Holds(detail) => {
            let output = json!({"held": detail}).to_string();
            if ports.callbacks().succeed(&token.0, &output).await? == Callback::TaskGone {
                warn!("the waiting state's token was refused; its timed retry finds the slot held");
            }
            Ok(RunnerOutput::done(job_id, &detail))
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::form::Priority;
    use recoflow_core::quota_queue::quota_wait;

    use super::*;
    use crate::acquire::acquire;
    use crate::fake::{prepared_job, slot_answer, submitted_at, training_pool, FakeRunnerPorts};
    use crate::release::release;

    const ONE_SLOT: &str = r#"{"sagemaker-training:*": 1}"#;

    /// A container job submitted at `at` that found no slot and parked with token `token-<id>`.
    async fn parked(ports: &FakeRunnerPorts, id: &str, at: &str) -> JobId {
        let job_id = prepared_job(ports, id, "container").await;
        submitted_at(ports, &job_id, at);
        assert!(!slot_answer(&acquire(ports, &job_id, Phase::Train).await.unwrap()).0);
        let token = TaskToken(format!("token-{id}"));
        wait_for_quota(ports, &job_id, Phase::Train, &token)
            .await
            .unwrap();
        job_id
    }

    #[tokio::test]
    async fn waiting_jobs_start_in_submission_order_and_a_high_job_submitted_last_goes_first() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        let mut running = prepared_job(&ports, "running-0", "container").await;
        acquire(&ports, &running, Phase::Train).await.unwrap();
        // They take their places in another order than they were submitted in.
        for n in [3, 1, 5, 2, 4] {
            parked(
                &ports,
                &format!("normal-{n}"),
                &format!("2026-12-01T10:00:0{n}.000Z"),
            )
            .await;
        }
        let urgent = prepared_job(&ports, "urgent-6", "container").await;
        ports
            .jobs
            .records
            .lock()
            .unwrap()
            .get_mut(&urgent)
            .unwrap()
            .form
            .as_mut()
            .unwrap()
            .priority = Priority::High;
        submitted_at(&ports, &urgent, "2026-12-01T10:00:06.000Z");
        assert!(!slot_answer(&acquire(&ports, &urgent, Phase::Train).await.unwrap()).0);
        wait_for_quota(&ports, &urgent, Phase::Train, &TaskToken("token-urgent-6".into()))
            .await
            .unwrap();

        let last = ports.jobs.record(&JobId::parse("normal-5").unwrap()).unwrap();
        let wait = quota_wait(&ports.slots, &last).await.unwrap().unwrap();
        assert_eq!((wait.position, wait.holders, wait.waiting), (6, 1, 6));
        assert!(
            ports.callbacks.take_delivered().is_empty(),
            "nobody woken while the slot is held"
        );

        let mut started = Vec::new();
        for _ in 0..6 {
            release(&ports, &running, Phase::Train).await.unwrap();
            let woken = ports.callbacks.take_delivered();
            assert_eq!(woken.len(), 1, "one slot, one wake-up: {woken:?}");
            let next = JobId::parse(woken[0].strip_prefix("token-").unwrap()).unwrap();
            // The slot is the woken job's before it even asks: nobody else can take it.
            assert_eq!(ports.slots.state(&training_pool()).holders[0].job_id, next);
            assert!(slot_answer(&acquire(&ports, &next, Phase::Train).await.unwrap()).0);
            assert_eq!(ports.slots.state(&training_pool()).used, 1, "never two slots");
            started.push(next.to_string());
            running = next;
        }
        assert_eq!(
            started,
            ["urgent-6", "normal-1", "normal-2", "normal-3", "normal-4", "normal-5"]
        );
        assert!(ports.slots.state(&training_pool()).waiting.is_empty());
    }

    #[tokio::test]
    async fn a_job_that_finds_room_but_someone_waiting_ahead_of_it_waits_behind_them() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        // A job started outside recoflow holds the pool's one unit: nobody releases it.
        ports
            .sagemaker
            .external
            .lock()
            .unwrap()
            .push(recoflow_core::quota::ServiceJob {
                name: "a-notebook-job".into(),
                units: 1,
            });
        let first = parked(&ports, "first-1", "2026-12-01T10:00:01.000Z").await;
        ports.sagemaker.external.lock().unwrap().clear();

        let later = prepared_job(&ports, "later-2", "container").await;
        submitted_at(&ports, &later, "2026-12-01T10:00:02.000Z");
        let answer = acquire(&ports, &later, Phase::Train).await.unwrap();
        let (taken, detail) = slot_answer(&answer);
        assert!(!taken && detail.contains("place 2 in its queue"), "{detail}");
        // Its look found the free unit owed to the first job, and handed it over.
        assert_eq!(ports.callbacks.take_delivered(), ["token-first-1"]);
        assert_eq!(ports.slots.state(&training_pool()).holders[0].job_id, first);
    }

    #[tokio::test]
    async fn a_slot_freed_before_the_job_took_its_place_wakes_it_at_once() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        let running = prepared_job(&ports, "running-0", "container").await;
        acquire(&ports, &running, Phase::Train).await.unwrap();
        let waiting = prepared_job(&ports, "waiting-1", "container").await;
        assert!(!slot_answer(&acquire(&ports, &waiting, Phase::Train).await.unwrap()).0);
        // Released between the job's AcquireQuota and its WaitForQuota: nobody was queued.
        release(&ports, &running, Phase::Train).await.unwrap();
        assert!(ports.callbacks.take_delivered().is_empty());

        let token = TaskToken("token-waiting-1".into());
        wait_for_quota(&ports, &waiting, Phase::Train, &token)
            .await
            .unwrap();
        assert_eq!(ports.callbacks.take_delivered(), [token.0]);
        assert_eq!(ports.slots.state(&training_pool()).holders[0].job_id, waiting);
        assert!(ports.slots.state(&training_pool()).waiting.is_empty());
    }
}
