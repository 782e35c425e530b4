//! Handing freed units to the queue: whoever frees units of a pool (`ReleaseQuota`, clean-up
//! after a failure, a cancel or an ended execution, the sweep, a reclaimed lease) serves the
//! pool's queue at once. For each head in turn that fits, it takes the units on the head's
//! behalf, in the conditional write that also removes the head's place, and only then sends the
//! head's task token: no job that came later can take them in between. A wake-up that is lost
//! (the token's state timed out, the call failed) leaves the units held for the head, which
//! finds them at its timed retry (`AcquireQuota` after `QuotaWakeUpTimeoutSeconds`).

use recoflow_core::clock::Clock;
use recoflow_core::ports::{Acquired, Callback, JobStore, SlotStore, TakenInTurn, TaskCallbacks};
use recoflow_core::quota::{Pool, SlotHolder};
use recoflow_core::quota_queue::Waiter;
use serde_json::json;
use tracing::{info, warn};

use crate::error::RunnerError;
use crate::pool_capacity::pool_capacity;
use crate::ports::RunnerPorts;
use crate::step::pool_without_expired;

/// Looks at the pool while serving it: each serves one waiter, or follows a concurrent change.
const MAX_LOOKS: usize = 64;

/// Serves the pool's queue; answers how many waiters were handed units. Never fails its
/// caller: a queue that could not be served now is served by its waiters' timed retries.
pub async fn serve_queue<P: RunnerPorts>(ports: &P, pool: &Pool) -> usize {
    match try_serve(ports, pool).await {
        Ok(served) => served,
        Err(err) => {
            warn!(pool = %pool, error = %err, "could not serve the queue; its waiters ask again at their timed retry");
            0
        }
    }
}

async fn try_serve<P: RunnerPorts>(ports: &P, pool: &Pool) -> Result<usize, RunnerError> {
    let mut capacity = None;
    let mut served = 0;
    for _ in 0..MAX_LOOKS {
        let now = ports.clock().unix_now();
        let state = pool_without_expired(ports.slots(), pool, now).await?;
        let Some(head) = state.head().cloned() else {
            break;
        };
        let id = head.holder.id();
        if state.holder(&id).is_some() {
            // It took its units itself meanwhile (a timed retry); only its place is left.
            ports.slots().leave(pool, &id).await?;
            wake(ports, pool, &head).await?;
            continue;
        }
        let units = match capacity {
            Some(units) => units,
            None => *capacity.insert(pool_capacity(ports, pool, &state).await?.units()),
        };
        if !state.has_room(head.holder.units, units) {
            break;
        }
        // Its lease starts now: the head renews it from its first look on.
        let holder = SlotHolder {
            expires_at: now + i64::from(ports.settings().lease_seconds),
            ..head.holder.clone()
        };
        match ports
            .slots()
            .take_in_turn(pool, &holder, units, state.queue_revision)
            .await?
        {
            TakenInTurn::Decided(Acquired::Taken) => {
                served += 1;
                wake(ports, pool, &head).await?;
            }
            TakenInTurn::Decided(Acquired::AlreadyHeld) => {
                ports.slots().leave(pool, &id).await?;
                wake(ports, pool, &head).await?;
            }
            TakenInTurn::Decided(Acquired::Full(_)) => break,
            TakenInTurn::QueueMoved => continue,
        }
    }
    Ok(served)
}

/// Tells the waiter its units are held for it. A waiter whose state no longer waits on that
/// token is asking again by itself (its timed retry finds the units held), unless its job has
/// ended: then the units go back.
async fn wake<P: RunnerPorts>(ports: &P, pool: &Pool, waiter: &Waiter) -> Result<(), RunnerError> {
    let job_id = &waiter.holder.job_id;
    let output = json!({"handed_over": pool.key()}).to_string();
    match ports.callbacks().succeed(&waiter.token, &output).await {
        Ok(Callback::Delivered) => {
            info!(pool = %pool, job_id = %job_id, "slot handed over to the head of the queue");
            Ok(())
        }
        Ok(Callback::TaskGone) => {
            let running = ports
                .jobs()
                .get(job_id)
                .await?
                .is_some_and(|record| record.status.is_running());
            if !running {
                ports.slots().release(pool, &waiter.holder).await?;
                info!(pool = %pool, job_id = %job_id, "the head of the queue had ended; its slot goes back");
            }
            Ok(())
        }
        Err(err) => {
            warn!(pool = %pool, job_id = %job_id, error = %err, "could not wake the head of the queue; its timed retry finds the slot held");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::job::{JobId, JobStatus};
    use recoflow_core::phase::Phase;
    use recoflow_core::task::TaskToken;

    use super::*;
    use crate::acquire::acquire;
    use crate::cleanup::cleanup;
    use crate::fake::{prepared_job, slot_answer, submitted_at, training_pool, FakeRunnerPorts};
    use crate::release::release;
    use crate::wait_for_quota::wait_for_quota;

    const ONE_SLOT: &str = r#"{"sagemaker-training:*": 1}"#;

    /// A container job that holds the pool's one slot.
    async fn holding(ports: &FakeRunnerPorts, id: &str) -> JobId {
        let job_id = prepared_job(ports, id, "container").await;
        submitted_at(ports, &job_id, "2026-12-01T09:00:00.000Z");
        assert!(slot_answer(&acquire(ports, &job_id, Phase::Train).await.unwrap()).0);
        job_id
    }

    /// A container job submitted at 10:00:0`n` parked in the queue with token `token-<id>`.
    async fn parked(ports: &FakeRunnerPorts, id: &str, n: u32) -> JobId {
        let job_id = prepared_job(ports, id, "container").await;
        submitted_at(ports, &job_id, &format!("2026-12-01T10:00:0{n}.000Z"));
        assert!(!slot_answer(&acquire(ports, &job_id, Phase::Train).await.unwrap()).0);
        wait_for_quota(ports, &job_id, Phase::Train, &TaskToken(format!("token-{id}")))
            .await
            .unwrap();
        job_id
    }

    fn holders(ports: &FakeRunnerPorts) -> Vec<String> {
        let state = ports.slots.state(&training_pool());
        state.holders.iter().map(|h| h.job_id.to_string()).collect()
    }

    #[tokio::test]
    async fn a_lost_wake_up_leaves_the_slot_held_for_the_head_and_its_timed_retry_finds_it() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        let running = holding(&ports, "running-0").await;
        let head = parked(&ports, "head-1", 1).await;
        parked(&ports, "later-2", 2).await;
        *ports.callbacks.failing_sends.lock().unwrap() = 1;

        release(&ports, &running, Phase::Train).await.unwrap();
        assert!(
            ports.callbacks.take_delivered().is_empty(),
            "the wake-up was lost"
        );
        assert_eq!(holders(&ports), ["head-1"], "held for the head all the same");
        let later = JobId::parse("later-2").unwrap();
        assert!(!slot_answer(&acquire(&ports, &later, Phase::Train).await.unwrap()).0);

        // WaitForQuota's timeout: the head asks again and finds its slot.
        ports.clock.advance(Duration::from_secs(
            ports.settings.quota_wake_up_timeout_seconds.into(),
        ));
        assert!(slot_answer(&acquire(&ports, &head, Phase::Train).await.unwrap()).0);
        assert_eq!(ports.jobs.record(&head).unwrap().status, JobStatus::Training);
        assert_eq!(ports.slots.state(&training_pool()).used, 1);
    }

    #[tokio::test]
    async fn a_head_whose_job_has_ended_gives_the_slot_back_to_the_next_in_line() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        let running = holding(&ports, "running-0").await;
        let gone = parked(&ports, "gone-1", 1).await;
        let next = parked(&ports, "next-2", 2).await;
        // Its execution ended without taking it out of the queue, its token with it.
        ports.jobs.force_status(&gone, JobStatus::Failed);
        ports.callbacks.gone.lock().unwrap().insert("token-gone-1".into());

        release(&ports, &running, Phase::Train).await.unwrap();
        assert_eq!(ports.callbacks.take_delivered(), ["token-next-2"]);
        assert_eq!(holders(&ports), [next.to_string()]);
        assert!(ports.slots.state(&training_pool()).waiting.is_empty());
    }

    #[tokio::test]
    async fn a_job_cancelled_while_waiting_leaves_the_queue_and_its_clean_up_hands_slots_on() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        let running = holding(&ports, "running-0").await;
        let cancelled = parked(&ports, "cancelled-1", 1).await;
        parked(&ports, "next-2", 2).await;

        ports.jobs.force_status(&cancelled, JobStatus::Cancelled);
        cleanup(&ports, &cancelled, Some("ABORTED")).await.unwrap();
        let state = ports.slots.state(&training_pool());
        assert_eq!(state.waiting.len(), 1, "{:?}", state.waiting);

        // The running job fails: its clean-up frees its slot and serves the queue.
        cleanup(&ports, &running, None).await.unwrap();
        assert_eq!(ports.callbacks.take_delivered(), ["token-next-2"]);
        assert_eq!(holders(&ports), ["next-2"]);
    }

    #[tokio::test]
    async fn a_reclaimed_lease_goes_to_the_head_of_the_queue() {
        let ports = FakeRunnerPorts::new(ONE_SLOT);
        // Its execution died holding the slot: nobody will release it.
        holding(&ports, "dead-0").await;
        let head = parked(&ports, "head-1", 1).await;
        ports
            .clock
            .advance(Duration::from_secs(u64::from(ports.settings.lease_seconds) + 1));

        // A later job's look reclaims the slot, and hands it to the head, not to itself.
        let later = prepared_job(&ports, "later-2", "container").await;
        submitted_at(&ports, &later, "2026-12-01T10:00:02.000Z");
        assert!(!slot_answer(&acquire(&ports, &later, Phase::Train).await.unwrap()).0);
        assert_eq!(ports.callbacks.take_delivered(), ["token-head-1"]);
        assert_eq!(holders(&ports), [head.to_string()]);
    }

    #[tokio::test]
    async fn a_head_that_took_its_slot_itself_is_only_taken_out_of_the_queue() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 2}"#);
        let head = prepared_job(&ports, "head-1", "container").await;
        let now = ports.clock.unix_now();
        ports.slots.insert(
            &training_pool(),
            SlotHolder::new(&head, Phase::Train, 1, now, 3600),
        );
        let waiter = Waiter {
            holder: SlotHolder::new(&head, Phase::Train, 1, 0, 0),
            priority: Default::default(),
            submitted_at: "2026-12-01T10:00:01.000Z".into(),
            token: "token-head-1".into(),
            parked_at: 0,
        };
        ports.slots.enqueue(&training_pool(), &waiter).await.unwrap();

        assert_eq!(serve_queue(&ports, &training_pool()).await, 0);
        let state = ports.slots.state(&training_pool());
        assert_eq!((state.used, state.waiting.len()), (1, 0), "no second slot");
        assert_eq!(ports.callbacks.take_delivered(), ["token-head-1"]);
    }
}
