//! What the runner's steps share: the answer they give, reading the job they work on and
//! moving its status.

use recoflow_core::errors::TransitionError;
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::ports::{JobStore, SlotStore, TransitionExtras};
use recoflow_core::quota::{Pool, PoolState, SlotHolder};
use recoflow_core::task::PhaseProgress;
use serde::Serialize;
use tracing::warn;

use crate::error::RunnerError;

/// What the runner answers the state machine.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RunnerOutput {
    /// `Advance`: whether the phase is done, and when to look again.
    Progress(PhaseProgress),
    /// `AcquireQuota`: whether the phase holds what it needs (`taken`), or waits for it.
    Slot {
        job_id: JobId,
        detail: String,
        taken: bool,
    },
    /// Every other step: what it did, for the execution's history.
    Done { job_id: JobId, detail: String },
    /// The sweep: how many running jobs it looked at, and the ones it closed.
    Swept { looked_at: u32, closed: Vec<JobId> },
}

impl RunnerOutput {
    pub fn done(job_id: &JobId, detail: &str) -> Self {
        RunnerOutput::Done {
            job_id: job_id.clone(),
            detail: detail.to_owned(),
        }
    }

    pub fn slot(job_id: &JobId, detail: &str, taken: bool) -> Self {
        RunnerOutput::Slot {
            job_id: job_id.clone(),
            detail: detail.to_owned(),
            taken,
        }
    }
}

/// The job's record; a job the table does not have ends the step.
pub async fn job_record<J: JobStore>(jobs: &J, job_id: &JobId) -> Result<JobRecord, RunnerError> {
    jobs.get(job_id)
        .await?
        .ok_or_else(|| RunnerError::job_not_found(job_id))
}

/// The form the job runs; a job without one (rejected at intake) has nothing to run.
pub fn job_form(record: &JobRecord) -> Result<JobForm, RunnerError> {
    record
        .form
        .clone()
        .ok_or_else(|| RunnerError::job_not_found(&record.job_id))
}

/// The job's record and form; a job that is not running ends the step.
pub async fn running_job<J: JobStore>(
    jobs: &J,
    job_id: &JobId,
    what: &str,
) -> Result<(JobRecord, JobForm), RunnerError> {
    let record = job_record(jobs, job_id).await?;
    if !record.status.is_running() {
        return Err(RunnerError::not_running(job_id, record.status, what));
    }
    let form = job_form(&record)?;
    Ok((record, form))
}

/// Moves the job to `to` unless it is there already: a retried step, or a step racing
/// another one that moved it first (the record read before may be stale).
pub async fn enter<J: JobStore>(
    jobs: &J,
    record: &JobRecord,
    to: JobStatus,
    detail: &str,
) -> Result<(), RunnerError> {
    if record.status == to {
        return Ok(());
    }
    match jobs
        .transition(&record.job_id, to, detail, TransitionExtras::default())
        .await
    {
        Err(TransitionError::Illegal { from, .. }) if from == to => Ok(()),
        other => Ok(other?),
    }
}

/// The pool, after reclaiming the slots of holders whose execution died without releasing:
/// their leases have run out.
pub async fn pool_without_expired<S: SlotStore>(
    slots: &S,
    pool: &Pool,
    now: i64,
) -> Result<PoolState, RunnerError> {
    let state = slots.pool(pool).await?;
    let expired: Vec<&SlotHolder> = state.holders.iter().filter(|h| h.is_expired(now)).collect();
    if expired.is_empty() {
        return Ok(state);
    }
    for holder in expired {
        if slots.reclaim(pool, holder).await? {
            warn!(pool = %pool, holder = %holder.id(), "reclaimed a slot whose lease expired");
        }
    }
    Ok(slots.pool(pool).await?)
}
