//! A job asking for units of one pool, in turn: it takes them only if there is room and nobody
//! waits ahead of it (by priority, then submission; see `recoflow_core::quota_queue`). Else it
//! is told its place; given its `WaitForQuota` state's token, it takes that place in the queue,
//! to be handed the units the moment they are its.

use recoflow_core::clock::Clock;
use recoflow_core::job::JobRecord;
use recoflow_core::ports::{Acquired, SlotStore, TakenInTurn};
use recoflow_core::quota::{Pool, PoolState, SlotHolder};
use recoflow_core::quota_queue::{QueuePlace, Waiter};
use recoflow_core::task::TaskToken;
use tracing::warn;

use crate::error::RunnerError;
use crate::hand_over::serve_queue;
use crate::pool_capacity::{pool_capacity, PoolCapacity};
use crate::ports::RunnerPorts;
use crate::step::pool_without_expired;

/// Looks at the pool before a take gives up and the job waits (each look after the first
/// follows a concurrent change of the queue or the last units going to someone else).
const LOOKS: usize = 5;

/// Where the job stands in the pool after asking.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// It holds the units: taken now, or held already (a retried step, or handed over).
    Holds,
    Waits(Waiting),
}

/// A job that has to wait: its place and the pool as it was.
#[derive(Debug, Clone, PartialEq)]
pub struct Waiting {
    /// 1: next to be served.
    pub position: usize,
    pub state: PoolState,
    pub capacity: PoolCapacity,
}

/// Asks for `holder`'s units of `pool` for the job `record`; with a token, a job that has to
/// wait takes (or renews) its place in the queue.
pub async fn take_turn<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    pool: &Pool,
    holder: &SlotHolder,
    token: Option<&TaskToken>,
) -> Result<Turn, RunnerError> {
    let place = QueuePlace::of(record, holder);
    let mut known_capacity = None;
    let mut last = None;
    for _ in 0..LOOKS {
        let state = pool_without_expired(ports.slots(), pool, ports.clock().unix_now()).await?;
        if state.holder(&holder.id()).is_some() {
            ports.slots().renew(pool, holder).await?;
            if state.waiter(&holder.id()).is_some() {
                ports.slots().leave(pool, &holder.id()).await?;
            }
            return Ok(Turn::Holds);
        }
        let capacity = match known_capacity {
            Some(known) => known,
            None => *known_capacity.insert(pool_capacity(ports, pool, &state).await?),
        };
        let ahead = state.ahead_of(&place);
        if ahead == 0 && state.has_room(holder.units, capacity.units()) {
            match ports
                .slots()
                .take_in_turn(pool, holder, capacity.units(), state.queue_revision)
                .await?
            {
                TakenInTurn::Decided(Acquired::Taken | Acquired::AlreadyHeld) => return Ok(Turn::Holds),
                TakenInTurn::Decided(Acquired::Full(_)) | TakenInTurn::QueueMoved => {
                    last = Some((ahead, state, capacity));
                    continue;
                }
            }
        }
        last = Some((ahead, state, capacity));
        break;
    }
    let (ahead, state, capacity) = last.expect("the pool was looked at");
    if let Some(token) = token {
        let waiter = Waiter {
            holder: holder.clone(),
            priority: place.priority,
            submitted_at: place.submitted_at.clone(),
            token: token.0.clone(),
            parked_at: ports.clock().unix_now(),
        };
        // A job without a place (its pool's item full, the write refused) still has its timed
        // retry: its wait must not fail the job.
        if let Err(err) = ports.slots().enqueue(pool, &waiter).await {
            warn!(pool = %pool, error = %err, "could not take a place in the queue; the timed retry asks again");
        }
    }
    if token.is_some() || state.has_room(1, capacity.units()) {
        // Units freed between the look and now, or free but owed to those ahead: hand them
        // out (to this job too, once it has its place).
        serve_queue(ports, pool).await;
    }
    Ok(Turn::Waits(Waiting {
        position: ahead + 1,
        state,
        capacity,
    }))
}
