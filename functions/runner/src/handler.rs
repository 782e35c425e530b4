//! The runner: every step of a job's phases on SageMaker or Personalize, called by the state
//! machine's phase loop (`Acquire` → `Advance`… → `Release`) and by the clean-up paths.
//!
//! Quota is taken before a phase launches: a slot in the phase's pool (DynamoDB), counted
//! against the operator's limit minus what the service itself shows running outside recoflow.
//! No room → `QuotaUnavailable`, and the state machine waits and asks again; the job shows
//! `WAITING_FOR_QUOTA` meanwhile and nobody is told, because waiting is not failing.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::diagnostic;
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::form::{Backend, JobForm};
use recoflow_core::job::{now_rfc3339, JobFailure, JobId, JobRecord, JobStatus};
use recoflow_core::phase::{LaunchedResource, Phase, ResourceKind, ResourceState};
use recoflow_core::ports::{
    Acquired, JobPatch, JobStore, LimitSource, MlService, SlotStore, TransitionError, TransitionExtras,
};
use recoflow_core::quota::{capacity, external_units, release_job_slots, Pool, SlotHolder};
use recoflow_core::task::{PhaseProgress, RunnerTask};
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::plan::PlanError;

pub struct RunnerDeps<J, S, L, C, P> {
    pub jobs: J,
    pub slots: S,
    pub limits: L,
    /// SageMaker (container backend).
    pub sagemaker: C,
    pub personalize: P,
    pub settings: RunnerSettings,
}

#[derive(Debug, Clone)]
pub struct RunnerSettings {
    pub results_bucket: String,
    /// Wait between two looks at a running phase.
    pub poll_seconds: u32,
    /// A slot holder not renewed for this long is reclaimed (renewed at every look).
    pub lease_seconds: u32,
    /// A phase running longer than this is stopped and fails the job.
    pub phase_timeout_seconds: u32,
    /// Launches per job resource: the first plus relaunches after platform failures.
    pub max_attempts: u32,
    /// First wait before a relaunch; doubled per attempt, fully jittered, capped by the poll
    /// interval times 10.
    pub relaunch_base_seconds: u32,
}

#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum RunnerOutput {
    Progress(PhaseProgress),
    Done { job_id: JobId, detail: String },
}

#[derive(Debug, thiserror::Error)]
pub enum RunnerError {
    #[error("job {0} does not exist or has no valid form")]
    JobNotFound(JobId),
    #[error("job {job_id} is {status}: {what} stops here")]
    NotRunning {
        job_id: JobId,
        status: JobStatus,
        what: String,
    },
    #[error("{0}")]
    QuotaUnavailable(String),
    #[error("{0}")]
    LaunchRefused(String),
    #[error("{0}")]
    LaunchInvalid(String),
    #[error("{reason}")]
    PhaseFailed {
        phase: Phase,
        reason: String,
        platform: bool,
    },
    #[error("{0}")]
    PhaseTimedOut(String),
    #[error("{0}")]
    Configuration(String),
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<PlanError> for RunnerError {
    fn from(err: PlanError) -> Self {
        RunnerError::Configuration(err.to_string())
    }
}

impl NamedError for RunnerError {
    fn error_name(&self) -> ErrorName {
        match self {
            RunnerError::JobNotFound(_) | RunnerError::Transition(TransitionError::NotFound(_)) => {
                ErrorName::JobNotFound
            }
            RunnerError::NotRunning { status, .. } if *status == JobStatus::Cancelled => {
                ErrorName::JobCancelled
            }
            RunnerError::NotRunning { .. } | RunnerError::Transition(TransitionError::Illegal { .. }) => {
                ErrorName::IllegalTransition
            }
            RunnerError::QuotaUnavailable(_) => ErrorName::QuotaUnavailable,
            RunnerError::LaunchRefused(_) => ErrorName::LaunchRefused,
            RunnerError::LaunchInvalid(_) => ErrorName::LaunchInvalid,
            RunnerError::PhaseFailed { platform: true, .. } => ErrorName::PlatformFailed,
            RunnerError::PhaseFailed { phase, .. } => match phase {
                Phase::Import => ErrorName::ImportFailed,
                Phase::Train => ErrorName::TrainingFailed,
                Phase::Score => ErrorName::ScoringFailed,
            },
            RunnerError::PhaseTimedOut(_) => ErrorName::PhaseTimedOut,
            RunnerError::Configuration(_) => ErrorName::ConfigurationInvalid,
            RunnerError::Transition(TransitionError::Service(e)) | RunnerError::Service(e) => e.error_name(),
        }
    }
}

impl From<RunnerError> for Diagnostic {
    fn from(err: RunnerError) -> Self {
        diagnostic(err.error_name(), &err)
    }
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

impl<J, S, L, C: MlService, P: MlService> RunnerDeps<J, S, L, C, P> {
    pub fn service(&self, backend: Backend) -> &dyn MlService {
        match backend {
            Backend::Container => &self.sagemaker,
            Backend::Personalize => &self.personalize,
        }
    }
}

impl<J: JobStore, S, L, C, P> RunnerDeps<J, S, L, C, P> {
    /// The job's record and form; a job that is not running ends the step.
    pub async fn running_job(&self, job_id: &JobId, what: &str) -> Result<(JobRecord, JobForm), RunnerError> {
        let record = self
            .jobs
            .get(job_id)
            .await?
            .ok_or_else(|| RunnerError::JobNotFound(job_id.clone()))?;
        if !record.status.is_running() {
            return Err(RunnerError::NotRunning {
                job_id: job_id.clone(),
                status: record.status,
                what: what.to_owned(),
            });
        }
        let form = record
            .form
            .clone()
            .ok_or_else(|| RunnerError::JobNotFound(job_id.clone()))?;
        Ok((record, form))
    }

    /// Moves the job to `to` unless it is there already: a retried step, or a step racing
    /// another one that moved it first (the record read before may be stale).
    pub async fn enter(&self, record: &JobRecord, to: JobStatus, detail: &str) -> Result<(), RunnerError> {
        if record.status == to {
            return Ok(());
        }
        match self
            .jobs
            .transition(&record.job_id, to, detail, TransitionExtras::default())
            .await
        {
            Err(TransitionError::Illegal { from, .. }) if from == to => Ok(()),
            other => Ok(other?),
        }
    }
}

pub async fn handle<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    task: RunnerTask,
) -> Result<RunnerOutput, RunnerError>
where
    J: JobStore,
    S: SlotStore,
    L: LimitSource,
    C: MlService,
    P: MlService,
{
    let span = tracing::info_span!("runner", job_id = %task.job_id());
    async {
        match task {
            RunnerTask::Acquire { job_id, phase } => acquire(deps, &job_id, phase).await,
            RunnerTask::Advance { job_id, phase } => crate::advance::advance(deps, &job_id, phase)
                .await
                .map(RunnerOutput::Progress),
            RunnerTask::Release { job_id, phase } => release(deps, &job_id, phase).await,
            RunnerTask::Cleanup {
                job_id,
                execution_status,
            } => cleanup(deps, &job_id, execution_status.as_deref()).await,
        }
    }
    .instrument(span)
    .await
}

async fn acquire<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError>
where
    J: JobStore,
    S: SlotStore,
    L: LimitSource,
    C: MlService,
    P: MlService,
{
    let (record, form) = deps.running_job(job_id, "acquiring quota").await?;
    let Some((pool, units)) = Pool::for_phase(&form, phase) else {
        deps.enter(&record, phase.status(), "no quota pool for this phase")
            .await?;
        return Ok(done(job_id, "no quota needed"));
    };
    let limits = deps.limits.limits().await?.map_err(RunnerError::Configuration)?;
    let limit = limits.limit_for(&pool).ok_or_else(|| {
        RunnerError::Configuration(format!(
            "the quota limits have no entry for pool {pool} (nor a default for its kind)"
        ))
    })?;
    if units > limit {
        return Err(RunnerError::LaunchInvalid(format!(
            "the {phase} phase needs {units} units of pool {pool}, whose limit is {limit}: it could never run"
        )));
    }
    let now = unix_now();
    let mut state = deps.slots.pool(&pool).await?;
    // Holders whose execution died without releasing: their leases have run out.
    for expired in state.holders.iter().filter(|h| h.is_expired(now)) {
        if deps.slots.reclaim(&pool, expired).await? {
            warn!(pool = %pool, holder = %expired.id(), "reclaimed a slot whose lease expired");
        }
    }
    if state.holders.iter().any(|h| h.is_expired(now)) {
        state = deps.slots.pool(&pool).await?;
    }
    let service = deps.service(form.backend);
    let running = service.in_progress(&pool, &state.holder_prefixes()).await?;
    let external = external_units(&state, &running);
    let holder = SlotHolder::new(job_id, phase, units, now, deps.settings.lease_seconds);
    match deps
        .slots
        .acquire(&pool, &holder, capacity(limit, external))
        .await?
    {
        Acquired::Taken | Acquired::AlreadyHeld => {
            let detail = format!("quota slot taken in {pool} ({units} of {limit})");
            info!(pool = %pool, units, limit, external, "slot taken");
            deps.enter(&record, phase.status(), &detail).await?;
            Ok(done(job_id, &detail))
        }
        Acquired::Full(full) => {
            let detail = format!(
                "waiting for quota in {pool}: {} of {limit} units held by recoflow jobs, {external} by jobs started elsewhere",
                full.used
            );
            info!(pool = %pool, used = full.used, limit, external, "no slot; waiting");
            deps.enter(&record, JobStatus::WaitingForQuota, &detail).await?;
            Err(RunnerError::QuotaUnavailable(detail))
        }
    }
}

fn done(job_id: &JobId, detail: &str) -> RunnerOutput {
    RunnerOutput::Done {
        job_id: job_id.clone(),
        detail: detail.to_owned(),
    }
}

async fn release<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError>
where
    J: JobStore,
    S: SlotStore,
    L: LimitSource,
    C: MlService,
    P: MlService,
{
    let record = deps
        .jobs
        .get(job_id)
        .await?
        .ok_or_else(|| RunnerError::JobNotFound(job_id.clone()))?;
    let form = record
        .form
        .ok_or_else(|| RunnerError::JobNotFound(job_id.clone()))?;
    let Some((pool, units)) = Pool::for_phase(&form, phase) else {
        return Ok(done(job_id, "no quota held"));
    };
    let holder = SlotHolder::new(job_id, phase, units, 0, 0);
    let released = deps.slots.release(&pool, &holder).await?;
    info!(pool = %pool, released, "phase slot released");
    Ok(done(job_id, &format!("slot in {pool} released")))
}

/// How long clean-up waits for the jobs it stopped to say so (SageMaker stops take a while).
const STOP_WAIT: Duration = Duration::from_secs(20);

/// Asks the service to stop every job the record shows running, waits a little for them to end,
/// and records what the service says became of each (not what was asked). Answers the names of
/// the jobs stopped or stopping.
async fn stop_launched<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    record: &JobRecord,
    form: &JobForm,
    why: &str,
) -> Result<Vec<String>, RunnerError>
where
    J: JobStore,
    C: MlService,
    P: MlService,
{
    let service = deps.service(form.backend);
    let running: Vec<&LaunchedResource> = record
        .resources
        .values()
        .filter(|r| r.kind.is_job() && !r.state.is_final())
        .collect();
    for resource in &running {
        if let Err(err) = service.stop(resource).await {
            warn!(resource = %resource.name, error = %err, "could not stop; it runs to its end");
        }
    }
    let deadline = std::time::Instant::now() + STOP_WAIT;
    let mut seen = Vec::with_capacity(running.len());
    loop {
        seen.clear();
        for resource in &running {
            seen.push(service.observe(resource).await?);
        }
        let settled = seen.iter().zip(&running).all(|(now, resource)| {
            now.as_ref().is_none_or(|o| o.state.is_final()) || !stoppable(resource.kind)
        });
        if settled || std::time::Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
    let mut stopped = Vec::new();
    for (resource, now) in running.iter().zip(seen) {
        let mut entry = (*resource).clone();
        entry.at = now_rfc3339();
        match now {
            None => {
                entry.state = ResourceState::Failed;
                entry.reason = Some("never created: the launch did not go through".into());
            }
            Some(observed) if observed.state.is_final() => {
                entry.state = observed.state;
                entry.reason = observed.reason.or_else(|| Some(format!("{why}; it had ended")));
                if observed.state == ResourceState::Stopped {
                    stopped.push(resource.name.clone());
                }
            }
            Some(_) if !stoppable(resource.kind) => {
                entry.reason = Some(format!("runs to its end: Personalize cannot stop it ({why})"));
            }
            Some(_) => {
                entry.reason = Some(format!("stopping ({why})"));
                stopped.push(resource.name.clone());
            }
        }
        deps.jobs
            .patch(&record.job_id, JobPatch::Resource(entry), None)
            .await?;
    }
    Ok(stopped)
}

/// Personalize import and batch inference jobs cannot be stopped.
fn stoppable(kind: ResourceKind) -> bool {
    !matches!(
        kind,
        ResourceKind::DatasetImportJob | ResourceKind::BatchInferenceJob
    )
}

/// Stops whatever the job still runs and gives its slots back. Called on the failure path and
/// when an execution ended from outside (then the job, if still shown running, is marked
/// FAILED). Repeating it is harmless.
async fn cleanup<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    execution_status: Option<&str>,
) -> Result<RunnerOutput, RunnerError>
where
    J: JobStore,
    S: SlotStore,
    L: LimitSource,
    C: MlService,
    P: MlService,
{
    let Some(record) = deps.jobs.get(job_id).await? else {
        return Ok(done(job_id, "no such job; nothing to clean up"));
    };
    let Some(form) = &record.form else {
        return Ok(done(job_id, "the job never ran"));
    };
    let why = match (record.status, execution_status) {
        (JobStatus::Cancelled, _) => "job cancelled".to_owned(),
        (_, Some(status)) => format!("execution {status}"),
        _ => "job failed".to_owned(),
    };
    // Slots first: they are what other jobs wait for; then the job's status; then the stops,
    // which may take a while to show.
    let released = release_job_slots(&deps.slots, job_id, form).await?;
    if let Some(status) = execution_status {
        if record.status.is_running() {
            let failure = JobFailure {
                error: ErrorName::ExecutionStopped.to_string(),
                cause: format!(
                    "the job's execution ended {status} outside recoflow's failure path (stopped or timed out in Step Functions)"
                ),
                state: record.status.to_string(),
            };
            let extras = TransitionExtras {
                failure: Some(failure),
                ..TransitionExtras::default()
            };
            match deps
                .jobs
                .transition(job_id, JobStatus::Failed, &format!("execution {status}"), extras)
                .await
            {
                Ok(()) | Err(TransitionError::Illegal { .. }) => {}
                Err(err) => return Err(err.into()),
            }
        }
    }
    let stopped = stop_launched(deps, &record, form, &why).await?;
    info!(stopped = stopped.len(), released = released.len(), why = %why, "cleaned up");
    Ok(done(
        job_id,
        &format!(
            "{why}: stopped {} resource(s), released {} slot(s)",
            stopped.len(),
            released.len()
        ),
    ))
}
