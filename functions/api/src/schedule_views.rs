//! What clients see of a schedule. Allow-lists, like the job views.

use jiff::Timestamp;
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::JobStore;
use recoflow_core::schedule::record::StateChange;
use recoflow_core::schedule::{NextRun, Overlap, RunOutcome, ScheduleId, ScheduleRecord, ScheduleState};
use serde::Serialize;

/// A schedule in a list (`GET /schedules`).
#[derive(Serialize)]
pub struct ScheduleSummary<'a> {
    schedule_id: &'a ScheduleId,
    job_name: &'a str,
    result_set: &'a str,
    submitted_by: &'a str,
    state: ScheduleState,
    expression: &'a str,
    timezone: &'a str,
    overlap: Overlap,
    created_at: &'a str,
    /// The next firing (none while paused), in UTC and in the schedule's zone.
    next_run: Option<NextRun>,
    /// The newest firing and what it became.
    last_run: Option<RunView<'a>>,
}

impl<'a> ScheduleSummary<'a> {
    pub fn of(record: &'a ScheduleRecord, now: Timestamp) -> Self {
        let settings = record.settings();
        Self {
            schedule_id: &record.schedule_id,
            job_name: &record.form.job_name,
            result_set: &record.form.result_set,
            submitted_by: &record.form.submitted_by,
            state: record.state,
            expression: &settings.expression,
            timezone: &settings.timezone,
            overlap: settings.overlap,
            created_at: &record.created_at,
            next_run: record.next_runs(now).into_iter().next(),
            last_run: record.runs.last().map(|run| RunView::of(run, None)),
        }
    }
}

/// One firing: its job, what the firing made of it, and the job's status now (when read).
#[derive(Serialize)]
pub struct RunView<'a> {
    scheduled_time: &'a str,
    job_id: &'a JobId,
    outcome: RunOutcome,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<JobStatus>,
    at: &'a str,
}

impl<'a> RunView<'a> {
    fn of(run: &'a recoflow_core::schedule::ScheduleRun, status: Option<JobStatus>) -> Self {
        Self {
            scheduled_time: &run.scheduled_time,
            job_id: &run.job_id,
            outcome: run.outcome,
            status,
            at: &run.at,
        }
    }
}

/// A schedule whole (`GET /schedules/{id}`): the form, the state, the next firings, the last
/// ones newest first with their jobs' statuses.
#[derive(Serialize)]
pub struct ScheduleView<'a> {
    schedule_id: &'a ScheduleId,
    state: ScheduleState,
    form: &'a JobForm,
    created_at: &'a str,
    updated_at: &'a str,
    next_runs: Vec<NextRun>,
    last_runs: Vec<RunView<'a>>,
    /// The job the next firing would overlap while it runs.
    #[serde(skip_serializing_if = "Option::is_none")]
    active_job: Option<&'a JobId>,
    /// Jobs waiting for it to end (`overlap: queue`), oldest first.
    waiting: &'a [JobId],
    changes: &'a [StateChange],
}

impl<'a> ScheduleView<'a> {
    /// The view, with the current status of each kept run's job.
    pub async fn read<J: JobStore>(
        record: &'a ScheduleRecord,
        jobs: &J,
        now: Timestamp,
    ) -> Result<Self, recoflow_core::errors::ServiceError> {
        let mut last_runs = Vec::with_capacity(record.runs.len());
        for run in record.runs.iter().rev() {
            let status = jobs.get(&run.job_id).await?.map(|job| job.status);
            last_runs.push(RunView::of(run, status));
        }
        Ok(Self {
            schedule_id: &record.schedule_id,
            state: record.state,
            form: &record.form,
            created_at: &record.created_at,
            updated_at: &record.updated_at,
            next_runs: record.next_runs(now),
            last_runs,
            active_job: record.active_job.as_ref(),
            waiting: &record.waiting,
            changes: &record.changes,
        })
    }
}
