//! `Advance`: one look at a running phase. Create what does not exist yet, see how what exists
//! is doing, relaunch what failed for the platform's reasons, and say whether the phase is done.
//!
//! Every resource is described before it is created, and its name is fixed by the job (see
//! `plan`), so a retried step adopts what an earlier attempt created. A resource is written on
//! the job record (`LAUNCHING`) before the create call, on condition that the job still runs
//! this phase, and the job is read again after the call: a job cancelled meanwhile never keeps
//! a resource running that nobody will stop. A job left `WAITING_FOR_QUOTA` by a refused launch
//! gets its phase's status back at the first look that launches or sees its resources running
//! and is refused nothing, whether the launch's own status write went through or not.

use recoflow_core::backoff::full_jitter_seconds;
use recoflow_core::clock::Clock;
use recoflow_core::form::JobForm;
use recoflow_core::history::{phase_deadline_seconds, poll_wait};
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::launch::{CreateError, CreateOutcome, Observed, ResourceSpec};
use recoflow_core::phase::{LaunchedResource, Phase, ResourceState};
use recoflow_core::ports::{JobPatch, JobStore, MlService, SlotStore};
use recoflow_core::quota::{Pool, SlotHolder};
use recoflow_core::task::PhaseProgress;
use tracing::{info, warn};

use crate::datasets;
use crate::error::RunnerError;
use crate::plan::{stages, PlanContext};
use crate::ports::RunnerPorts;
use crate::step::{enter, job_record, running_job};

/// Where one resource stands after a look.
enum Step {
    Ready,
    /// Created by this look.
    Launched,
    Running,
    /// Failed for the platform's reasons; relaunched after this many seconds.
    Relaunching(u32),
}

pub async fn advance<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
) -> Result<PhaseProgress, RunnerError> {
    let (record, form) = running_job(ports.jobs(), job_id, "the phase").await?;
    keep_quota(ports, &record, &form, phase).await?;
    let prepared = record
        .prepared
        .as_ref()
        .ok_or_else(|| RunnerError::Configuration("the job was not prepared".into()))?;
    let settings = ports.settings();
    let ctx = PlanContext {
        job_id,
        form: &form,
        record: &record,
        prepared,
        results_bucket: &settings.results_bucket,
        max_attempts: settings.max_attempts.max(1),
    };
    let look = PhaseLook {
        ports,
        service: ports.service(form.backend),
        record: &record,
        phase,
    };
    let mut launched = None;
    for stage in stages(&ctx, phase)? {
        let mut waiting = None;
        for spec in &stage {
            match look.step(spec).await? {
                Step::Ready => {}
                Step::Launched => {
                    launched = Some(spec.name().to_owned());
                    waiting = Some(waiting.unwrap_or_else(|| look.next_look_in()));
                }
                Step::Running => waiting = Some(waiting.unwrap_or_else(|| look.next_look_in())),
                Step::Relaunching(wait) => waiting = Some(wait),
            }
        }
        if let Some(wait_seconds) = waiting {
            look.resume_phase(launched.as_deref()).await?;
            return Ok(PhaseProgress {
                done: false,
                wait_seconds: wait_seconds.max(1),
            });
        }
    }
    look.resume_phase(launched.as_deref()).await?;
    info!(phase = %phase, "phase done");
    Ok(PhaseProgress {
        done: true,
        wait_seconds: 0,
    })
}

/// Renews the phase's lease (and its hold on datasets); a holder reclaimed while the job still
/// ran (its looks stopped for longer than the lease) takes its slot back, since its jobs run
/// anyway.
async fn keep_quota<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    phase: Phase,
) -> Result<(), RunnerError> {
    if let Some(generation) = datasets::held_in(record, form, phase)? {
        datasets::keep(ports, record, &generation).await?;
    }
    let Some((pool, units)) = Pool::for_phase(form, phase) else {
        return Ok(());
    };
    let now = ports.clock().unix_now();
    let holder = SlotHolder::new(&record.job_id, phase, units, now, ports.settings().lease_seconds);
    if !ports.slots().renew(&pool, &holder).await? {
        warn!(pool = %pool, "the phase's slot was reclaimed while it ran; taking it back");
        ports.slots().acquire(&pool, &holder, u32::MAX).await?;
    }
    Ok(())
}

/// Statuses in which the job may launch this phase's resources.
fn launching_statuses(phase: Phase) -> [JobStatus; 2] {
    [phase.status(), JobStatus::WaitingForQuota]
}

/// One look at one phase of one job: what the look at each of its resources shares.
struct PhaseLook<'a, P> {
    ports: &'a P,
    service: &'a dyn MlService,
    /// The job as read at the start of the look.
    record: &'a JobRecord,
    phase: Phase,
}

impl<P: RunnerPorts> PhaseLook<'_, P> {
    async fn step(&self, spec: &ResourceSpec) -> Result<Step, RunnerError> {
        match self.service.describe(spec).await? {
            None => self.launch(spec).await,
            Some(observed) => self.observe(spec, observed).await,
        }
    }

    /// The record's entry for this resource, stamped now.
    fn entry(&self, spec: &ResourceSpec, state: ResourceState, arn: Option<String>) -> LaunchedResource {
        let name = spec.name();
        LaunchedResource {
            phase: self.phase,
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
            at: self.ports.clock().rfc3339_now(),
            reason: None,
            platform_failure: false,
            reused: None,
        }
    }

    /// Writes the entry on condition that the job may still launch this phase; false when it
    /// may not (cancelled or failed meanwhile).
    async fn record_launch(&self, entry: LaunchedResource) -> Result<bool, RunnerError> {
        let allowed = launching_statuses(self.phase);
        Ok(self
            .ports
            .jobs()
            .patch(&self.record.job_id, JobPatch::Resource(entry), Some(&allowed))
            .await?)
    }

    /// The error of a launch the job left the launching statuses during: its status now.
    async fn stopped_meanwhile(&self) -> RunnerError {
        let job_id = &self.record.job_id;
        match job_record(self.ports.jobs(), job_id).await {
            Ok(record) => RunnerError::not_running(job_id, record.status, "launching"),
            Err(err) => err,
        }
    }

    async fn launch(&self, spec: &ResourceSpec) -> Result<Step, RunnerError> {
        let launching = self.entry(spec, ResourceState::Launching, None);
        if !self.record_launch(launching).await? {
            return Err(self.stopped_meanwhile().await);
        }
        let arn = match self.service.create(spec).await {
            Ok(CreateOutcome::Created { arn }) => arn,
            // Created by an earlier attempt of this step: adopt it.
            Ok(CreateOutcome::AlreadyExists) => None,
            Err(CreateError::Refused(reason)) => {
                let detail = format!("{} refused for now: {reason}", spec.name());
                warn!(resource = %spec.name(), reason = %reason, "launch refused; waiting for quota");
                enter(
                    self.ports.jobs(),
                    self.record,
                    JobStatus::WaitingForQuota,
                    &detail,
                )
                .await?;
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
        let running = self.entry(spec, ResourceState::Running, arn);
        if !self.record_launch(running.clone()).await? {
            // Cancelled while the create call ran: stop what was just created.
            if let Err(err) = self.service.stop(&running).await {
                warn!(resource = %spec.name(), error = %err, "could not stop a resource of a cancelled job");
            }
            return Err(self.stopped_meanwhile().await);
        }
        info!(resource = %spec.name(), kind = ?spec.kind(), "launched");
        // Described at the next look (a dataset group, too, takes a moment to become ACTIVE).
        Ok(Step::Launched)
    }

    /// After a look that was refused nothing: a job still shown waiting for quota runs its
    /// phase again (what it waited for is launched, or was seen running).
    async fn resume_phase(&self, launched: Option<&str>) -> Result<(), RunnerError> {
        if self.record.status != JobStatus::WaitingForQuota {
            return Ok(());
        }
        let detail = match launched {
            Some(name) => format!("launched {name}"),
            None => format!("the {} phase's resources run", self.phase),
        };
        enter(self.ports.jobs(), self.record, self.phase.status(), &detail).await
    }

    async fn observe(&self, spec: &ResourceSpec, observed: Observed) -> Result<Step, RunnerError> {
        let current = self.record_observed(spec, &observed).await?;
        let settings = self.ports.settings();
        match observed.state {
            ResourceState::Succeeded => Ok(Step::Ready),
            ResourceState::Launching | ResourceState::Running => {
                let limit = self.deadline_seconds();
                if spec.kind().is_job() && self.over_time(&current, limit) {
                    self.service.stop(&current).await?;
                    return Err(RunnerError::PhaseTimedOut(format!(
                        "{} ran longer than the {limit} s allowed for a phase and was stopped",
                        spec.name()
                    )));
                }
                Ok(Step::Running)
            }
            ResourceState::Failed | ResourceState::Stopped => {
                let reason = observed.reason.clone().unwrap_or_else(|| {
                    format!("{} ended {:?} without a reason", spec.name(), observed.state)
                });
                let attempts_left = current.attempt < settings.max_attempts;
                if observed.state == ResourceState::Failed && observed.platform_failure && attempts_left {
                    let wait = full_jitter_seconds(
                        settings.relaunch_base_seconds,
                        current.attempt,
                        settings.poll_seconds.saturating_mul(10),
                    );
                    warn!(resource = %spec.name(), reason = %reason, wait, "platform failure; relaunching");
                    return Ok(Step::Relaunching(wait));
                }
                Err(RunnerError::PhaseFailed {
                    phase: self.phase,
                    reason: format!("{}: {reason}", spec.name()),
                    platform: observed.platform_failure,
                })
            }
        }
    }

    /// The record's entry for the resource, updated with what changed (first sight, a new
    /// state, the ARN learnt) and written if anything did.
    async fn record_observed(
        &self,
        spec: &ResourceSpec,
        observed: &Observed,
    ) -> Result<LaunchedResource, RunnerError> {
        let known = self.record.resources.get(spec.name());
        let mut current = known
            .cloned()
            .unwrap_or_else(|| self.entry(spec, observed.state, observed.arn.clone()));
        let arn_learnt = current.arn.is_none() && observed.arn.is_some();
        if current.state != observed.state || arn_learnt || known.is_none() {
            current.state = observed.state;
            current.arn = current.arn.or(observed.arn.clone());
            current.at = self.ports.clock().rfc3339_now();
            current.reason = observed.reason.clone();
            current.platform_failure = observed.platform_failure;
            self.ports
                .jobs()
                .patch(&self.record.job_id, JobPatch::Resource(current.clone()), None)
                .await?;
        }
        Ok(current)
    }

    /// Seconds the phase has run: since the job first entered the phase's status (its slot
    /// taken), else since the resource was last seen to change state.
    fn phase_age(&self, resource: Option<&LaunchedResource>) -> u64 {
        let started = self
            .record
            .history
            .iter()
            .find(|change| change.status == self.phase.status())
            .map(|change| change.at.as_str())
            .or(resource.map(|r| r.at.as_str()));
        started.map_or(0, |at| self.ports.clock().seconds_since(at))
    }

    /// The next look: sooner while the phase is young, up to the longest wait as it ages, so
    /// the longest phase fits in one execution's history (`recoflow_core::history`).
    fn next_look_in(&self) -> u32 {
        let settings = self.ports.settings();
        poll_wait(
            self.phase_age(None),
            settings.poll_seconds,
            settings.max_poll_seconds,
        )
    }

    /// How long recoflow lets this phase run.
    fn deadline_seconds(&self) -> u64 {
        let runtime = self
            .record
            .form
            .as_ref()
            .and_then(|f| f.container.as_ref())
            .map(|c| c.max_runtime_seconds);
        phase_deadline_seconds(self.ports.settings().phase_timeout_seconds, runtime)
    }

    /// Whether a running resource's phase has run past its deadline (relaunches included).
    fn over_time(&self, resource: &LaunchedResource, limit_seconds: u64) -> bool {
        self.phase_age(Some(resource)) > limit_seconds
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::errors::{ErrorName, NamedError};
    use recoflow_core::phase::{job_resource_name, ResourceKind};
    use recoflow_core::ports::TransitionExtras;

    use super::*;
    use crate::acquire::acquire;
    use crate::fake::{prepared_job, FakeRunnerPorts, LIMITS};
    use crate::release::release;

    /// A container job whose training slot is taken, as `AcquireQuota` leaves it.
    async fn training_job(ports: &FakeRunnerPorts) -> JobId {
        let job_id = prepared_job(ports, "weekly-1", "container").await;
        acquire(ports, &job_id, Phase::Train).await.unwrap();
        job_id
    }

    #[tokio::test]
    async fn a_refused_launch_waits_for_quota_then_launches() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        *ports.sagemaker.refuse_creates.lock().unwrap() = 1;
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::LaunchRefused);
        assert_eq!(
            ports.jobs.record(&job_id).unwrap().status,
            JobStatus::WaitingForQuota
        );

        advance(&ports, &job_id, Phase::Train).await.unwrap();
        let statuses = ports.jobs.statuses(&job_id);
        assert_eq!(
            &statuses[statuses.len() - 3..],
            [
                JobStatus::Training,
                JobStatus::WaitingForQuota,
                JobStatus::Training
            ]
        );
    }

    #[tokio::test]
    async fn a_launch_whose_status_write_failed_gets_its_phase_status_back_at_the_next_look() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        *ports.sagemaker.refuse_creates.lock().unwrap() = 1;
        advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        // The launch goes through; the status write after it does not.
        *ports.jobs.failing_transitions.lock().unwrap() = 1;
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::ServiceUnavailable);
        assert_eq!(*ports.sagemaker.create_calls.lock().unwrap(), 2);
        assert_eq!(
            ports.jobs.record(&job_id).unwrap().status,
            JobStatus::WaitingForQuota
        );

        // The retried look finds the job running: the job trains again, and can be delivered.
        let look = advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert!(!look.done);
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Training);
        assert_eq!(
            record.history.last().unwrap().detail,
            "the train phase's resources run"
        );
        assert_eq!(
            *ports.sagemaker.create_calls.lock().unwrap(),
            2,
            "nothing launched twice"
        );
    }

    #[tokio::test]
    async fn a_platform_failure_is_relaunched_and_every_attempt_is_kept() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        advance(&ports, &job_id, Phase::Train).await.unwrap();
        let first = job_resource_name(&job_id, Phase::Train, None, 1);
        ports.sagemaker.set_state(
            &first,
            ResourceState::Failed,
            Some("InternalServerError: We encountered an internal error."),
            true,
        );
        let waiting = advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert!(!waiting.done);
        assert!((1..=20).contains(&waiting.wait_seconds));
        advance(&ports, &job_id, Phase::Train).await.unwrap();
        let second = job_resource_name(&job_id, Phase::Train, None, 2);
        ports
            .sagemaker
            .set_state(&second, ResourceState::Succeeded, None, false);
        assert!(advance(&ports, &job_id, Phase::Train).await.unwrap().done);

        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.resources[&first].state, ResourceState::Failed);
        assert!(record.resources[&first].platform_failure);
        assert_eq!(record.resources[&second].attempt, 2);
        assert_eq!(record.resources[&second].state, ResourceState::Succeeded);
    }

    #[tokio::test]
    async fn platform_failures_stop_being_relaunched_after_the_last_attempt() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        let mut last = None;
        for attempt in 1..=3 {
            advance(&ports, &job_id, Phase::Train).await.unwrap();
            let name = job_resource_name(&job_id, Phase::Train, None, attempt);
            ports.sagemaker.set_state(
                &name,
                ResourceState::Failed,
                Some("CapacityError: Unable to provision requested ML compute capacity."),
                true,
            );
            last = Some(advance(&ports, &job_id, Phase::Train).await);
        }
        let err = last.unwrap().unwrap_err();
        assert_eq!(err.error_name(), ErrorName::PlatformFailed);
        assert!(err.to_string().contains("CapacityError"), "{err}");
    }

    #[tokio::test]
    async fn a_failing_container_fails_the_phase_with_its_reason() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        advance(&ports, &job_id, Phase::Train).await.unwrap();
        let name = job_resource_name(&job_id, Phase::Train, None, 1);
        ports.sagemaker.set_state(
            &name,
            ResourceState::Failed,
            Some("AlgorithmError: interactions.csv:3 column TIMESTAMP: expected an integer, exit code: 1"),
            false,
        );
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::TrainingFailed);
        assert!(err.to_string().contains("column TIMESTAMP"), "{err}");
        assert_eq!(*ports.sagemaker.create_calls.lock().unwrap(), 1, "no relaunch");
    }

    #[tokio::test]
    async fn an_invalid_launch_fails_without_retrying() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        *ports.sagemaker.invalid_create.lock().unwrap() =
            Some("ValidationException: image cannot be pulled".into());
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::LaunchInvalid);
    }

    #[tokio::test]
    async fn a_cancelled_job_launches_nothing() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = training_job(&ports).await;
        ports
            .jobs
            .transition(&job_id, JobStatus::Cancelled, "test", TransitionExtras::default())
            .await
            .unwrap();
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::JobCancelled);
        assert_eq!(*ports.sagemaker.create_calls.lock().unwrap(), 0);
    }

    #[tokio::test]
    async fn a_phase_over_its_time_limit_is_stopped() {
        let mut ports = FakeRunnerPorts::new(LIMITS);
        // A container phase may run its form's runtime (86,400 s here) and an hour.
        ports.settings.phase_timeout_seconds = 10;
        let job_id = training_job(&ports).await;
        advance(&ports, &job_id, Phase::Train).await.unwrap();
        // At the limit it still runs.
        ports.clock.advance(Duration::from_secs(86_400 + 3_600));
        advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert!(ports.sagemaker.stopped.lock().unwrap().is_empty());

        // (The record's times are the fake store's real ones: a second of slack.)
        ports.clock.advance(Duration::from_secs(2));
        let err = advance(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::PhaseTimedOut);
        assert_eq!(ports.sagemaker.stopped.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn looks_at_a_phase_grow_rarer_as_it_ages() {
        let mut ports = FakeRunnerPorts::new(LIMITS);
        ports.settings.poll_seconds = 30;
        ports.settings.max_poll_seconds = 900;
        let job_id = training_job(&ports).await;
        let first = advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert_eq!(
            first.wait_seconds, 30,
            "a young phase is looked at every poll interval"
        );
        ports.clock.advance(Duration::from_secs(3_005));
        let later = advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert_eq!(later.wait_seconds, 300, "a tenth of its age");
        ports.clock.advance(Duration::from_secs(20_000));
        let old = advance(&ports, &job_id, Phase::Train).await.unwrap();
        assert_eq!(old.wait_seconds, 900, "never longer than the cap");
    }

    #[tokio::test]
    async fn a_personalize_import_waits_for_each_stage() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = prepared_job(&ports, "spring-1", "personalize").await;
        acquire(&ports, &job_id, Phase::Import).await.unwrap();
        assert_eq!(
            ports.slots.state(&Pool::PersonalizeImports).used,
            2,
            "one unit per data file"
        );

        // First look: the dataset group and schemas; datasets wait for them.
        advance(&ports, &job_id, Phase::Import).await.unwrap();
        assert_eq!(ports.personalize.names().len(), 3);
        // Then the datasets, then the imports.
        advance(&ports, &job_id, Phase::Import).await.unwrap();
        assert_eq!(ports.personalize.names().len(), 5);
        let last = advance(&ports, &job_id, Phase::Import).await.unwrap();
        assert!(!last.done);
        assert_eq!(ports.personalize.names().len(), 7);
        let imports = ports
            .personalize
            .names()
            .iter()
            .filter(|n| ports.personalize.spec(n).unwrap().kind() == ResourceKind::DatasetImportJob)
            .count();
        assert_eq!(imports, 2);
        for name in ports.personalize.names() {
            ports
                .personalize
                .set_state(&name, ResourceState::Succeeded, None, false);
        }
        assert!(advance(&ports, &job_id, Phase::Import).await.unwrap().done);
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Importing);
        assert_eq!(record.resources.len(), 7);
    }

    #[tokio::test]
    async fn a_rerun_of_a_result_set_reuses_its_personalize_resources() {
        let ports = FakeRunnerPorts::new(LIMITS);
        for id in ["spring-1", "spring-2"] {
            let job_id = prepared_job(&ports, id, "personalize").await;
            acquire(&ports, &job_id, Phase::Import).await.unwrap();
            for _ in 0..4 {
                advance(&ports, &job_id, Phase::Import).await.unwrap();
                for name in ports.personalize.names() {
                    ports
                        .personalize
                        .set_state(&name, ResourceState::Succeeded, None, false);
                }
            }
            // The next job takes the datasets once this one's training is over.
            release(&ports, &job_id, Phase::Train).await.unwrap();
        }
        // One dataset group, two schemas, two datasets; two import jobs per job.
        assert_eq!(ports.personalize.names().len(), 5 + 2 * 2);
    }
}
