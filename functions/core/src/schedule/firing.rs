//! A schedule's firing becomes a job: [`start_firing`] is the one way a firing starts a job
//! (the firings of EventBridge Scheduler, and any other trigger that starts a job from a
//! stored form at a given time).
//!
//! - The job id derives from the schedule and the scheduled time, and every write is
//!   conditional, so a firing delivered twice (or retried after a crash) starts one job.
//! - Overlap: the schedule's record names its `active_job`, the one the last started firing
//!   ran. A firing while it still runs is, with `overlap: skip`, a job recorded `SKIPPED`
//!   naming it; with `overlap: queue`, a job written `QUEUED` without an execution and put at
//!   the end of the schedule's `waiting` list (at most [`MAX_WAITING`]; past that, `SKIPPED`).
//! - The queue moves on in [`job_ended`] (the job state machine's execution ended) and, in case
//!   that event was lost, at every firing: the oldest waiting job becomes the active one and
//!   its execution is started through the one submit path.
//! - Deciding is one conditional write of the schedule's record (on its `revision`); a writer
//!   that lost re-reads and decides again, so two firings never both start.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use tracing::{info, warn};

use super::ports::ScheduleStore;
use super::record::{RunOutcome, ScheduleId, ScheduleRecord, ScheduleRun, ScheduleState};
use super::{utc_text, Overlap};
use crate::errors::ServiceError;
use crate::job::{JobId, JobRecord, JobSource, JobStatus, SkipCause, Skipped};
use crate::ports::{Clock, Executions, JobStore};
use crate::submit::{submit, SubmitError};

/// Jobs that may wait for a schedule's running job (`overlap: queue`); a firing past that is
/// SKIPPED, so a schedule much faster than its jobs cannot pile up work without end.
pub const MAX_WAITING: usize = 10;

/// Conditional writes of one decision before it gives up (each loser re-reads and decides
/// again; firings of one schedule rarely meet).
const MAX_DECISION_ATTEMPTS: u32 = 8;

/// What starting a job from a stored form (a schedule's or a trigger's) needs.
pub trait FiringPorts: Send + Sync {
    type Jobs: JobStore;
    type Executions: Executions;
    type Schedules: ScheduleStore;
    type Triggers: crate::trigger::ports::TriggerStore;
    type Clock: Clock;
    fn jobs(&self) -> &Self::Jobs;
    fn executions(&self) -> &Self::Executions;
    fn schedules(&self) -> &Self::Schedules;
    fn triggers(&self) -> &Self::Triggers;
    fn clock(&self) -> &Self::Clock;
}

/// A firing, as the Scheduler sends it to the target (see `create::firing_input`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Firing {
    pub schedule_id: ScheduleId,
    /// `<aws.scheduler.scheduled-time>`: RFC 3339, UTC.
    pub scheduled_time: String,
    /// `<aws.scheduler.execution-id>`: the same for a firing's retries and re-deliveries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// Run the job even if its form and data are those of the schedule's last success (a
    /// firing asked for by hand; the Scheduler's own firings leave it out).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
}

/// What a firing became.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum FiringOutcome {
    Started {
        job_id: JobId,
    },
    /// Waiting QUEUED for the schedule's running job.
    Queued {
        job_id: JobId,
        behind: JobId,
    },
    Skipped {
        job_id: JobId,
        running: JobId,
    },
    /// The firing was handled before (a re-delivery): its job is where it was.
    Duplicate {
        job_id: JobId,
        status: JobStatus,
    },
    /// The schedule is unknown, paused or deleted: nothing was done.
    Ignored {
        reason: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FiringError {
    #[error("the firing's scheduled_time {0:?} is not an RFC 3339 time")]
    InvalidTime(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("schedule {0}: other writers kept changing its record; the firing is retried")]
    Contended(ScheduleId),
}

impl From<SubmitError> for FiringError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::Record(err) | SubmitError::Execution(err) => Self::Service(err),
        }
    }
}

/// What this firing's job is to be, decided on the schedule's record.
#[derive(Debug, Clone, PartialEq)]
enum Turn {
    Start,
    Wait { behind: JobId },
    Skip { running: JobId, reason: String },
}

/// Starts the job of one firing (once, whatever the deliveries), or records why it waits or
/// was skipped. This is the path every firing takes.
pub async fn start_firing<P: FiringPorts>(ports: &P, firing: &Firing) -> Result<FiringOutcome, FiringError> {
    let scheduled = firing
        .scheduled_time
        .parse::<Timestamp>()
        .map_err(|_| FiringError::InvalidTime(firing.scheduled_time.clone()))?;
    for _ in 0..MAX_DECISION_ATTEMPTS {
        let Some(mut record) = ports.schedules().get(&firing.schedule_id).await? else {
            return Ok(ignored(format!("no schedule {}", firing.schedule_id)));
        };
        let job_id = JobId::for_firing(&record.form.job_name, firing.schedule_id.as_str(), scheduled);
        if let Some(existing) = ports.jobs().get(&job_id).await? {
            return duplicate(ports, existing).await;
        }
        let noted = record.runs.iter().find(|r| r.job_id == job_id).map(|r| r.outcome);
        if noted.is_none() && record.state != ScheduleState::Enabled {
            return Ok(ignored(format!(
                "schedule {} is {}",
                record.schedule_id, record.state
            )));
        }
        let read_revision = record.revision;
        let to_start = advance_queue(ports, &mut record, None).await?;
        let turn = match noted {
            // Decided before, its job record not written (a crash): the same decision.
            Some(outcome) => repeat_turn(&record, &job_id, outcome),
            None => decide(ports, &record, &job_id).await?,
        };
        note(
            &mut record,
            &job_id,
            scheduled,
            &turn,
            &ports.clock().rfc3339_now(),
        );
        if !ports.schedules().replace(&record, read_revision).await? {
            continue;
        }
        if let Some(next) = to_start {
            start_waiting(ports, &next).await?;
        }
        return write_job(ports, &record, job_id, scheduled, turn, firing.force).await;
    }
    Err(FiringError::Contended(firing.schedule_id.clone()))
}

/// The job state machine's execution of `job_id` ended: if it was its schedule's active job,
/// the oldest job waiting for it is started. `None`: not a schedule's job, nothing waited.
pub async fn job_ended<P: FiringPorts>(ports: &P, job_id: &JobId) -> Result<Option<JobId>, FiringError> {
    let Some(job) = ports.jobs().get(job_id).await? else {
        return Ok(None);
    };
    let JobSource::Schedule { schedule_id, .. } = &job.source else {
        return Ok(None);
    };
    let Some(schedule_id) = ScheduleId::parse(schedule_id) else {
        return Ok(None);
    };
    for _ in 0..MAX_DECISION_ATTEMPTS {
        let Some(mut record) = ports.schedules().get(&schedule_id).await? else {
            return Ok(None);
        };
        let read_revision = record.revision;
        let Some(next) = advance_queue(ports, &mut record, Some(job_id)).await? else {
            return Ok(None);
        };
        if !ports.schedules().replace(&record, read_revision).await? {
            continue;
        }
        start_waiting(ports, &next).await?;
        return Ok(Some(next.job_id));
    }
    Err(FiringError::Contended(schedule_id))
}

fn ignored(reason: String) -> FiringOutcome {
    info!(%reason, "firing ignored");
    FiringOutcome::Ignored { reason }
}

/// A firing whose job exists: where it is. A job that was to start but has no execution (a
/// crash between the record and the start) is started now.
async fn duplicate<P: FiringPorts>(ports: &P, existing: JobRecord) -> Result<FiringOutcome, FiringError> {
    let waits = existing.status == JobStatus::Queued && existing.execution_arn.is_none();
    if waits && !is_waiting(ports, &existing).await? {
        submit(ports.jobs(), ports.executions(), &existing).await?;
    }
    info!(job_id = %existing.job_id, status = %existing.status, "firing delivered again; its job exists");
    Ok(FiringOutcome::Duplicate {
        job_id: existing.job_id,
        status: existing.status,
    })
}

/// Whether a QUEUED job without an execution is one its schedule keeps waiting.
async fn is_waiting<P: FiringPorts>(ports: &P, job: &JobRecord) -> Result<bool, ServiceError> {
    let JobSource::Schedule { schedule_id, .. } = &job.source else {
        return Ok(false);
    };
    let Some(id) = ScheduleId::parse(schedule_id) else {
        return Ok(false);
    };
    let record = ports.schedules().get(&id).await?;
    Ok(record.is_some_and(|r| r.waiting.contains(&job.job_id)))
}

/// Whether the job runs. `ended` is a job known to have ended whatever its record says (its
/// execution's end event may arrive before the record's last write).
async fn running<P: FiringPorts>(
    ports: &P,
    job_id: &JobId,
    ended: Option<&JobId>,
) -> Result<Option<JobRecord>, ServiceError> {
    if ended == Some(job_id) {
        return Ok(None);
    }
    Ok(ports
        .jobs()
        .get(job_id)
        .await?
        .filter(|job| job.status.is_running()))
}

/// Moves the schedule's turn on: when its active job no longer runs and jobs wait, the oldest
/// one still QUEUED becomes active (cancelled ones are dropped). Also an active job that never
/// got its execution (a crash after the decision) is started. Returns the job to start.
async fn advance_queue<P: FiringPorts>(
    ports: &P,
    record: &mut ScheduleRecord,
    ended: Option<&JobId>,
) -> Result<Option<JobRecord>, ServiceError> {
    if let Some(active) = record.active_job.clone() {
        if let Some(job) = running(ports, &active, ended).await? {
            let unstarted = job.status == JobStatus::Queued && job.execution_arn.is_none();
            return Ok(unstarted.then_some(job));
        }
    }
    while !record.waiting.is_empty() {
        let next = record.waiting.remove(0);
        match ports.jobs().get(&next).await? {
            Some(job) if job.status == JobStatus::Queued => {
                record.active_job = Some(next.clone());
                record.revision += 1;
                if let Some(run) = record.run_mut(&next) {
                    run.outcome = RunOutcome::Started;
                }
                return Ok(Some(job));
            }
            _ => {
                warn!(job_id = %next, "a waiting job no longer waits (cancelled?); dropped from the queue");
                record.revision += 1;
            }
        }
    }
    Ok(None)
}

async fn decide<P: FiringPorts>(
    ports: &P,
    record: &ScheduleRecord,
    job_id: &JobId,
) -> Result<Turn, ServiceError> {
    if record.waiting.contains(job_id) {
        return Ok(Turn::Wait {
            behind: record.active_job.clone().unwrap_or_else(|| job_id.clone()),
        });
    }
    let Some(active) = record.active_job.clone().filter(|a| a != job_id) else {
        return Ok(Turn::Start);
    };
    let Some(running_job) = running(ports, &active, None).await? else {
        return Ok(Turn::Start);
    };
    let settings = record.settings();
    let status = running_job.status;
    Ok(match settings.overlap {
        Overlap::Skip => Turn::Skip {
            reason: format!("job {active} of this schedule was still {status} at this firing (overlap: skip)"),
            running: active,
        },
        Overlap::Queue if record.waiting.len() >= MAX_WAITING => Turn::Skip {
            reason: format!(
                "{} jobs already waited for job {active}, still {status} (overlap: queue holds at most {MAX_WAITING})",
                record.waiting.len()
            ),
            running: active,
        },
        Overlap::Queue => Turn::Wait {
            behind: record.waiting.last().cloned().unwrap_or(active),
        },
    })
}

/// The decision a noted run stands for, made again for its job record.
fn repeat_turn(record: &ScheduleRecord, job_id: &JobId, outcome: RunOutcome) -> Turn {
    let running = record.active_job.clone().unwrap_or_else(|| job_id.clone());
    match outcome {
        RunOutcome::Started => Turn::Start,
        RunOutcome::Queued => Turn::Wait { behind: running },
        RunOutcome::Skipped => Turn::Skip {
            reason: format!("job {running} of this schedule was still running at this firing"),
            running,
        },
    }
}

/// The decision on the record: the run noted, the job made active or put in the queue.
fn note(record: &mut ScheduleRecord, job_id: &JobId, scheduled: Timestamp, turn: &Turn, now: &str) {
    let outcome = match turn {
        Turn::Start => {
            record.active_job = Some(job_id.clone());
            RunOutcome::Started
        }
        Turn::Wait { .. } => {
            if !record.waiting.contains(job_id) {
                record.waiting.push(job_id.clone());
            }
            RunOutcome::Queued
        }
        Turn::Skip { .. } => RunOutcome::Skipped,
    };
    record.note_run(ScheduleRun {
        scheduled_time: utc_text(scheduled),
        job_id: job_id.clone(),
        outcome,
        at: now.to_owned(),
    });
    record.revision += 1;
    record.updated_at = now.to_owned();
}

/// Starts a job that waited (its record is QUEUED): the submit path starts its execution.
async fn start_waiting<P: FiringPorts>(ports: &P, job: &JobRecord) -> Result<(), FiringError> {
    info!(job_id = %job.job_id, "its turn came: starting the schedule's next job");
    submit(ports.jobs(), ports.executions(), job).await?;
    Ok(())
}

/// Writes the firing's job as decided (and starts it) through the one submit path.
async fn write_job<P: FiringPorts>(
    ports: &P,
    record: &ScheduleRecord,
    job_id: JobId,
    scheduled: Timestamp,
    turn: Turn,
    force: bool,
) -> Result<FiringOutcome, FiringError> {
    let source = JobSource::Schedule {
        schedule_id: record.schedule_id.to_string(),
        scheduled_time: utc_text(scheduled),
    };
    let mut form = record.job_form();
    form.force |= force;
    let (digest, now) = (record.form_digest.clone(), ports.clock().rfc3339_now());
    let earlier_runs = record.earlier_runs(&job_id);
    let outcome = match turn {
        Turn::Start => {
            let mut job = JobRecord::queued(job_id.clone(), source, form, digest, &now);
            job.earlier_runs = earlier_runs;
            submit(ports.jobs(), ports.executions(), &job).await?;
            FiringOutcome::Started { job_id }
        }
        Turn::Wait { behind } => {
            let detail = format!(
                "waiting for job {behind} of schedule {} to end (overlap: queue)",
                record.schedule_id
            );
            let mut job = JobRecord::waiting(job_id.clone(), source, form, digest, &now, &detail);
            job.earlier_runs = earlier_runs;
            ports.jobs().create(&job).await?;
            FiringOutcome::Queued { job_id, behind }
        }
        Turn::Skip { running, reason } => {
            let skipped = Skipped {
                cause: SkipCause::Overlap,
                job_id: running.clone(),
                reason,
            };
            let job = JobRecord::skipped(job_id.clone(), source, form, digest, &now, skipped);
            ports.jobs().create(&job).await?;
            FiringOutcome::Skipped { job_id, running }
        }
    };
    info!(outcome = ?outcome, "firing handled");
    Ok(outcome)
}

#[cfg(test)]
#[path = "firing_tests.rs"]
mod tests;
