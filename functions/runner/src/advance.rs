//! One look at a running phase: create what does not exist yet, see how what exists is doing,
//! relaunch what failed for the platform's reasons, and say whether the phase is done.
//!
//! Every resource is described before it is created, and its name is fixed by the job (see
//! `plan`), so a retried step adopts what an earlier attempt created. A resource is written on
//! the job record (`LAUNCHING`) before the create call, on condition that the job still runs
//! this phase, and the job is read again after the call: a job cancelled meanwhile never keeps
//! a resource running that nobody will stop.

use recoflow_core::backoff::full_jitter_seconds;
use recoflow_core::job::{now_rfc3339, JobId, JobRecord, JobStatus};
use recoflow_core::launch::{CreateError, CreateOutcome, Observed, ResourceSpec};
use recoflow_core::phase::{LaunchedResource, Phase, ResourceState};
use recoflow_core::ports::{JobPatch, JobStore, LimitSource, MlService, SlotStore};
use recoflow_core::quota::{Pool, SlotHolder};
use recoflow_core::task::PhaseProgress;
use time::OffsetDateTime;
use tracing::{info, warn};

use crate::handler::{unix_now, RunnerDeps, RunnerError};
use crate::plan::{stages, PlanContext};

/// Where one resource stands after a look.
enum Step {
    Ready,
    Running,
    /// Failed for the platform's reasons; relaunched after this many seconds.
    Relaunching(u32),
}

pub async fn advance<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    phase: Phase,
) -> Result<PhaseProgress, RunnerError>
where
    J: JobStore,
    S: SlotStore,
    L: LimitSource,
    C: MlService,
    P: MlService,
{
    let (record, form) = deps.running_job(job_id, "the phase").await?;
    keep_slot(deps, job_id, &form, phase).await?;
    let prepared = record
        .prepared
        .as_ref()
        .ok_or_else(|| RunnerError::Configuration("the job was not prepared".into()))?;
    let ctx = PlanContext {
        job_id,
        form: &form,
        record: &record,
        prepared,
        results_bucket: &deps.settings.results_bucket,
        max_attempts: deps.settings.max_attempts.max(1),
    };
    let service = deps.service(form.backend);
    for stage in stages(&ctx, phase)? {
        let mut waiting = None;
        for spec in &stage {
            match step(deps, service, &record, phase, spec).await? {
                Step::Ready => {}
                Step::Running => waiting = Some(waiting.unwrap_or(deps.settings.poll_seconds)),
                Step::Relaunching(wait) => waiting = Some(wait),
            }
        }
        if let Some(wait_seconds) = waiting {
            return Ok(PhaseProgress {
                done: false,
                wait_seconds: wait_seconds.max(1),
            });
        }
    }
    info!(phase = %phase, "phase done");
    Ok(PhaseProgress {
        done: true,
        wait_seconds: 0,
    })
}

/// Renews the phase's lease; a holder reclaimed while the job still ran (its looks stopped
/// for longer than the lease) takes its slot back, since its jobs run anyway.
async fn keep_slot<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    form: &recoflow_core::form::JobForm,
    phase: Phase,
) -> Result<(), RunnerError>
where
    J: JobStore,
    S: SlotStore,
{
    let Some((pool, units)) = Pool::for_phase(form, phase) else {
        return Ok(());
    };
    let holder = SlotHolder::new(job_id, phase, units, unix_now(), deps.settings.lease_seconds);
    if !deps.slots.renew(&pool, &holder).await? {
        warn!(pool = %pool, "the phase's slot was reclaimed while it ran; taking it back");
        deps.slots.acquire(&pool, &holder, u32::MAX).await?;
    }
    Ok(())
}

async fn step<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    service: &dyn MlService,
    record: &JobRecord,
    phase: Phase,
    spec: &ResourceSpec,
) -> Result<Step, RunnerError>
where
    J: JobStore,
{
    let known = record.resources.get(spec.name());
    match service.describe(spec).await? {
        None => launch(deps, service, record, phase, spec).await,
        Some(observed) => observe(deps, service, record, phase, spec, known, observed).await,
    }
}

fn entry(phase: Phase, spec: &ResourceSpec, state: ResourceState, arn: Option<String>) -> LaunchedResource {
    let name = spec.name();
    LaunchedResource {
        phase,
        kind: spec.kind(),
        name: name.to_owned(),
        arn,
        attempt: name
            .rsplit('-')
            .next()
            .and_then(|n| n.parse().ok())
            .filter(|_| spec.kind().is_job())
            .unwrap_or(1),
        state,
        at: now_rfc3339(),
        reason: None,
        platform_failure: false,
    }
}

/// Statuses in which the job may launch this phase's resources.
fn launching_statuses(phase: Phase) -> [JobStatus; 2] {
    [phase.status(), JobStatus::WaitingForQuota]
}

async fn launch<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    service: &dyn MlService,
    record: &JobRecord,
    phase: Phase,
    spec: &ResourceSpec,
) -> Result<Step, RunnerError>
where
    J: JobStore,
{
    let job_id = &record.job_id;
    let allowed = launching_statuses(phase);
    let launching = entry(phase, spec, ResourceState::Launching, None);
    if !deps
        .jobs
        .patch(job_id, JobPatch::Resource(launching), Some(&allowed))
        .await?
    {
        return Err(stopped_meanwhile(deps, job_id, "launching").await);
    }
    let arn = match service.create(spec).await {
        Ok(CreateOutcome::Created { arn }) => arn,
        // Created by an earlier attempt of this step: adopt it.
        Ok(CreateOutcome::AlreadyExists) => None,
        Err(CreateError::Refused(reason)) => {
            let detail = format!("{} refused for now: {reason}", spec.name());
            warn!(resource = %spec.name(), reason = %reason, "launch refused; waiting for quota");
            deps.enter(record, JobStatus::WaitingForQuota, &detail).await?;
            return Err(RunnerError::LaunchRefused(detail));
        }
        Err(CreateError::Invalid(reason)) => {
            return Err(RunnerError::LaunchInvalid(format!(
                "{} cannot be launched: {reason}",
                spec.name()
            )))
        }
        Err(CreateError::Service(err)) => return Err(err.into()),
    };
    let running = entry(phase, spec, ResourceState::Running, arn);
    if !deps
        .jobs
        .patch(job_id, JobPatch::Resource(running.clone()), Some(&allowed))
        .await?
    {
        // Cancelled while the create call ran: stop what was just created.
        if let Err(err) = service.stop(&running).await {
            warn!(resource = %spec.name(), error = %err, "could not stop a resource of a cancelled job");
        }
        return Err(stopped_meanwhile(deps, job_id, "launching").await);
    }
    if record.status == JobStatus::WaitingForQuota {
        deps.enter(record, phase.status(), &format!("launched {}", spec.name()))
            .await?;
    }
    info!(resource = %spec.name(), kind = ?spec.kind(), "launched");
    // Described at the next look (a dataset group, too, takes a moment to become ACTIVE).
    Ok(Step::Running)
}

async fn stopped_meanwhile<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    job_id: &JobId,
    what: &str,
) -> RunnerError
where
    J: JobStore,
{
    match deps.jobs.get(job_id).await {
        Ok(Some(record)) => RunnerError::NotRunning {
            job_id: job_id.clone(),
            status: record.status,
            what: what.to_owned(),
        },
        Ok(None) => RunnerError::JobNotFound(job_id.clone()),
        Err(err) => err.into(),
    }
}

async fn observe<J, S, L, C, P>(
    deps: &RunnerDeps<J, S, L, C, P>,
    service: &dyn MlService,
    record: &JobRecord,
    phase: Phase,
    spec: &ResourceSpec,
    known: Option<&LaunchedResource>,
    observed: Observed,
) -> Result<Step, RunnerError>
where
    J: JobStore,
{
    let job_id = &record.job_id;
    // Record what changed (first sight, a new state, the ARN learnt).
    let mut current = known
        .cloned()
        .unwrap_or_else(|| entry(phase, spec, observed.state, observed.arn.clone()));
    if current.state != observed.state || current.arn.is_none() && observed.arn.is_some() || known.is_none() {
        current.state = observed.state;
        current.arn = current.arn.or(observed.arn.clone());
        current.at = now_rfc3339();
        current.reason = observed.reason.clone();
        current.platform_failure = observed.platform_failure;
        deps.jobs
            .patch(job_id, JobPatch::Resource(current.clone()), None)
            .await?;
    }
    match observed.state {
        ResourceState::Succeeded => Ok(Step::Ready),
        ResourceState::Launching | ResourceState::Running => {
            if spec.kind().is_job() && over_time(&current, deps.settings.phase_timeout_seconds) {
                service.stop(&current).await?;
                return Err(RunnerError::PhaseTimedOut(format!(
                    "{} ran longer than the {} s allowed for a phase and was stopped",
                    spec.name(),
                    deps.settings.phase_timeout_seconds
                )));
            }
            Ok(Step::Running)
        }
        ResourceState::Failed | ResourceState::Stopped => {
            let reason = observed
                .reason
                .clone()
                .unwrap_or_else(|| format!("{} ended {:?} without a reason", spec.name(), observed.state));
            let attempts_left = current.attempt < deps.settings.max_attempts;
            if observed.state == ResourceState::Failed && observed.platform_failure && attempts_left {
                let wait = full_jitter_seconds(
                    deps.settings.relaunch_base_seconds,
                    current.attempt,
                    deps.settings.poll_seconds.saturating_mul(10),
                );
                warn!(resource = %spec.name(), reason = %reason, wait, "platform failure; relaunching");
                return Ok(Step::Relaunching(wait));
            }
            Err(RunnerError::PhaseFailed {
                phase,
                reason: format!("{}: {reason}", spec.name()),
                platform: observed.platform_failure,
            })
        }
    }
}

/// Whether a running resource has run past the phase limit. Its entry's time is when it was
/// last seen to change state, so a running job's clock starts when it was launched.
fn over_time(resource: &LaunchedResource, limit_seconds: u32) -> bool {
    let format = &time::format_description::well_known::Rfc3339;
    OffsetDateTime::parse(&resource.at, format)
        .map(|at| (OffsetDateTime::now_utc() - at).whole_seconds() > i64::from(limit_seconds))
        .unwrap_or(false)
}
