//! A quota pool's queue: the jobs that found no slot, first come first served within their
//! form's priority.
//!
//! A job that cannot take a slot parks on the task token of its state machine's
//! `WaitForQuota` state; its place is kept in the pool's item of the quota table (`waiting`, by
//! holder id), beside the holders, so one read shows both. Whoever frees units (a release, a
//! clean-up, a reclaimed lease) serves the queue: it takes the slot on the head's behalf, in
//! one conditional write that also removes the head's place, then sends the head's token, so a
//! freed slot never goes to a job that came later. A job that finds room but someone waiting
//! ahead of it joins the queue instead of taking it. Every change to `waiting` bumps the
//! pool's `queue_revision`, and a take is conditional on the revision it read: a job that
//! joined ahead meanwhile is never overtaken.
//!
//! The order: `high` before `normal` before `low`, then the job's submission time, then its
//! id (a tie of times between two jobs is broken the same way by everyone).

use serde::{Deserialize, Serialize};

use crate::errors::ServiceError;
use crate::form::Priority;
use crate::job::{JobId, JobRecord};
use crate::ports::SlotStore;
use crate::quota::{PoolState, SlotHolder};
use crate::slot_release::job_holders;

/// A job waiting in a pool's queue, as the quota table keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiter {
    /// What the job will hold once served (its lease starts then).
    pub holder: SlotHolder,
    pub priority: Priority,
    /// When the job was submitted: its record's `created_at` (RFC 3339 UTC, milliseconds, so
    /// the text sorts as the time).
    pub submitted_at: String,
    /// The task token of the job's `WaitForQuota` state: opaque, up to 2,048 characters, and
    /// never shown or logged (it lets its bearer resume the execution).
    pub token: String,
    /// Unix seconds when it took its place.
    pub parked_at: i64,
}

impl Waiter {
    pub fn place(&self) -> QueuePlace {
        QueuePlace {
            priority: self.priority,
            submitted_at: self.submitted_at.clone(),
            job_id: self.holder.job_id.clone(),
            holder: self.holder.id(),
        }
    }
}

/// Where a job stands in a queue; the queue is served in this order (derived, field by field).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct QueuePlace {
    pub priority: Priority,
    pub submitted_at: String,
    pub job_id: JobId,
    /// The holder id, so two holders of one job (a phase, its datasets) never tie.
    pub holder: String,
}

impl QueuePlace {
    /// The place of the job `record` for this holder.
    pub fn of(record: &JobRecord, holder: &SlotHolder) -> Self {
        Self {
            priority: record.form.as_ref().map(|f| f.priority).unwrap_or_default(),
            submitted_at: record.created_at.clone(),
            job_id: record.job_id.clone(),
            holder: holder.id(),
        }
    }
}

impl PoolState {
    /// Sorts the waiters into the order they are served (stores read them unordered).
    pub fn with_queue_in_order(mut self) -> Self {
        self.waiting.sort_by_key(Waiter::place);
        self
    }

    /// The waiter served next.
    pub fn head(&self) -> Option<&Waiter> {
        self.waiting.first()
    }

    pub fn waiter(&self, holder_id: &str) -> Option<&Waiter> {
        self.waiting.iter().find(|w| w.holder.id() == holder_id)
    }

    /// Waiters that go before `place` (its own earlier place, if it has one, is not counted).
    pub fn ahead_of(&self, place: &QueuePlace) -> usize {
        self.waiting
            .iter()
            .map(Waiter::place)
            .filter(|other| other.holder != place.holder && other < place)
            .count()
    }

    /// Whether the pool has room for `units` more within `capacity`.
    pub fn has_room(&self, units: u32, capacity: u32) -> bool {
        self.used.saturating_add(units) <= capacity
    }
}

/// What `GET /jobs/{id}` shows of a waiting job: its place and the pool it waits in.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QuotaWait {
    pub pool: String,
    /// 1 for the head of the queue.
    pub position: u32,
    /// Jobs holding units of the pool now.
    pub holders: u32,
    /// Jobs waiting in the pool's queue, this one included.
    pub waiting: u32,
}

/// The queue the job waits in and its place there; `None` when it has no place in any of its
/// pools' queues (it holds what it needs, or is between two tries).
pub async fn quota_wait<S: SlotStore + ?Sized>(
    slots: &S,
    record: &JobRecord,
) -> Result<Option<QuotaWait>, ServiceError> {
    for (pool, holder) in job_holders(record) {
        let state = slots.pool(&pool).await?;
        let id = holder.id();
        if let Some(index) = state.waiting.iter().position(|w| w.holder.id() == id) {
            return Ok(Some(QuotaWait {
                pool: pool.key(),
                position: index as u32 + 1,
                holders: state.holders.len() as u32,
                waiting: state.waiting.len() as u32,
            }));
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeSlots;
    use crate::phase::Phase;
    use crate::ports::{Acquired, TakenInTurn};
    use crate::quota::Pool;

    fn waiter(job: &str, priority: Priority, submitted_at: &str) -> Waiter {
        Waiter {
            holder: SlotHolder::new(&JobId::parse(job).unwrap(), Phase::Train, 1, 0, 0),
            priority,
            submitted_at: submitted_at.to_owned(),
            token: format!("token-{job}"),
            parked_at: 0,
        }
    }

    #[test]
    fn the_queue_is_served_by_priority_then_submission_then_id() {
        let state = PoolState {
            waiting: vec![
                waiter("late-normal", Priority::Normal, "2026-12-01T10:00:05.000Z"),
                waiter("low", Priority::Low, "2026-12-01T09:00:00.000Z"),
                waiter("b-tie", Priority::Normal, "2026-12-01T10:00:01.000Z"),
                waiter("high-last", Priority::High, "2026-12-01T11:00:00.000Z"),
                waiter("a-tie", Priority::Normal, "2026-12-01T10:00:01.000Z"),
            ],
            ..PoolState::default()
        }
        .with_queue_in_order();
        let order: Vec<&str> = state.waiting.iter().map(|w| w.holder.job_id.as_str()).collect();
        assert_eq!(order, ["high-last", "a-tie", "b-tie", "late-normal", "low"]);
        assert_eq!(state.head().unwrap().holder.job_id.as_str(), "high-last");

        // A normal job submitted at 10:00:03 stands behind three of them; its own earlier
        // place does not count against it.
        let mut place = waiter("newcomer", Priority::Normal, "2026-12-01T10:00:03.000Z").place();
        assert_eq!(state.ahead_of(&place), 3);
        place.priority = Priority::High;
        assert_eq!(
            state.ahead_of(&place),
            0,
            "a high job goes before every normal one"
        );
        place.submitted_at = "2026-12-01T12:00:00.000Z".into();
        assert_eq!(state.ahead_of(&place), 1, "only the high job submitted before it");
        let own = state.waiting[3].place();
        assert_eq!(state.ahead_of(&own), 3);
    }

    #[tokio::test]
    async fn a_take_in_turn_loses_to_a_job_that_joined_the_queue_since_it_looked() {
        let slots = FakeSlots::default();
        let pool = Pool::PersonalizeBatchInference;
        let looked = slots.pool(&pool).await.unwrap();
        // Someone joins the queue between the look and the take.
        let earlier = waiter("earlier", Priority::Normal, "2026-12-01T10:00:00.000Z");
        slots.enqueue(&pool, &earlier).await.unwrap();

        let late = waiter("late", Priority::Normal, "2026-12-01T10:00:05.000Z").holder;
        let moved = slots
            .take_in_turn(&pool, &late, 1, looked.queue_revision)
            .await
            .unwrap();
        assert_eq!(moved, TakenInTurn::QueueMoved);
        // The earlier job's take, at the revision it sees, removes its place with it.
        let now = slots.pool(&pool).await.unwrap();
        let taken = slots
            .take_in_turn(&pool, &earlier.holder, 1, now.queue_revision)
            .await
            .unwrap();
        assert_eq!(taken, TakenInTurn::Decided(Acquired::Taken));
        let after = slots.pool(&pool).await.unwrap();
        assert!(after.waiting.is_empty() && after.used == 1, "{after:?}");
        assert!(after.queue_revision > now.queue_revision);
        assert!(slots.leave(&pool, "late#train").await.is_ok_and(|left| !left));
    }
}
