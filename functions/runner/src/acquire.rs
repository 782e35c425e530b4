//! `AcquireQuota`: takes the phase's slot before it launches anything.
//!
//! A slot is taken in the phase's pool (DynamoDB), counted against the operator's limit minus
//! what the service itself shows running outside recoflow. No room → `QuotaUnavailable`, and
//! the state machine waits and asks again; the job shows `WAITING_FOR_QUOTA` meanwhile and
//! nobody is told, because waiting is not failing. A Personalize job's import first takes
//! its datasets (`datasets.rs`), and waits the same way while another job holds them.

use recoflow_core::clock::Clock;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::phase::Phase;
use recoflow_core::ports::{Acquired, LimitSource, SlotStore};
use recoflow_core::quota::{capacity, external_units, Pool, SlotHolder};
use tracing::info;

use crate::datasets;
use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::step::{enter, pool_without_expired, running_job, RunnerOutput};

pub async fn acquire<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError> {
    let (record, form) = running_job(ports.jobs(), job_id, "acquiring quota").await?;
    // The datasets first: a job waiting for them should not sit on an import slot meanwhile.
    datasets::take_or_keep(ports, &record, &form, phase).await?;
    let Some((pool, units)) = Pool::for_phase(&form, phase) else {
        enter(
            ports.jobs(),
            &record,
            phase.status(),
            "no quota pool for this phase",
        )
        .await?;
        return Ok(RunnerOutput::done(job_id, "no quota needed"));
    };
    let limit = pool_limit(ports, &pool, phase, units).await?;
    let now = ports.clock().unix_now();
    let state = pool_without_expired(ports.slots(), &pool, now).await?;
    let running = ports
        .service(form.backend)
        .in_progress(&pool, &state.holder_prefixes())
        .await?;
    let external = external_units(&state, &running);
    let holder = SlotHolder::new(job_id, phase, units, now, ports.settings().lease_seconds);
    match ports
        .slots()
        .acquire(&pool, &holder, capacity(limit, external))
        .await?
    {
        Acquired::Taken | Acquired::AlreadyHeld => {
            let detail = format!("quota slot taken in {pool} ({units} of {limit})");
            info!(pool = %pool, units, limit, external, "slot taken");
            enter(ports.jobs(), &record, phase.status(), &detail).await?;
            Ok(RunnerOutput::done(job_id, &detail))
        }
        Acquired::Full(full) => {
            let detail = format!(
                "waiting for quota in {pool}: {} of {limit} units held by recoflow jobs, {external} by jobs started elsewhere",
                full.used
            );
            info!(pool = %pool, used = full.used, limit, external, "no slot; waiting");
            enter(ports.jobs(), &record, JobStatus::WaitingForQuota, &detail).await?;
            Err(RunnerError::QuotaUnavailable(detail))
        }
    }
}

/// The operator's limit for the pool; a phase that needs more than it could never run.
async fn pool_limit<P: RunnerPorts>(
    ports: &P,
    pool: &Pool,
    phase: Phase,
    units: u32,
) -> Result<u32, RunnerError> {
    let limits = ports
        .limits()
        .limits()
        .await?
        .map_err(RunnerError::Configuration)?;
    let limit = limits.limit_for(pool).ok_or_else(|| {
        RunnerError::Configuration(format!(
            "the quota limits have no entry for pool {pool} (nor a default for its kind)"
        ))
    })?;
    if units > limit {
        return Err(RunnerError::LaunchInvalid(format!(
            "the {phase} phase needs {units} units of pool {pool}, whose limit is {limit}: it could never run"
        )));
    }
    Ok(limit)
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::errors::{ErrorName, NamedError};
    use recoflow_core::fakes::test_form;
    use recoflow_core::quota::ServiceJob;

    use super::*;
    use crate::fake::{prepared_job, training_pool, FakeRunnerPorts};
    use crate::release::release;

    #[tokio::test]
    async fn a_full_pool_makes_the_job_wait_quietly_and_a_retry_never_takes_two_slots() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let first = prepared_job(&ports, "first-1", "container").await;
        let second = prepared_job(&ports, "second-1", "container").await;
        acquire(&ports, &first, Phase::Train).await.unwrap();
        // A retried acquire of the same phase is the same holder.
        acquire(&ports, &first, Phase::Train).await.unwrap();
        assert_eq!(ports.slots.state(&training_pool()).used, 1);

        for _ in 0..3 {
            let err = acquire(&ports, &second, Phase::Train).await.unwrap_err();
            assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);
        }
        let statuses = ports.jobs.statuses(&second);
        assert_eq!(
            statuses
                .iter()
                .filter(|s| **s == JobStatus::WaitingForQuota)
                .count(),
            1,
            "waiting is recorded once, not at every retry: {statuses:?}"
        );

        release(&ports, &first, Phase::Train).await.unwrap();
        release(&ports, &first, Phase::Train).await.unwrap();
        acquire(&ports, &second, Phase::Train).await.unwrap();
        assert_eq!(ports.jobs.record(&second).unwrap().status, JobStatus::Training);
        assert_eq!(ports.slots.state(&training_pool()).used, 1);
    }

    #[tokio::test]
    async fn jobs_started_outside_recoflow_count_against_the_pool() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 2}"#);
        let job_id = prepared_job(&ports, "weekly-1", "container").await;
        ports.sagemaker.external.lock().unwrap().push(ServiceJob {
            name: "a-data-scientists-notebook-job".into(),
            units: 2,
        });
        let err = acquire(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);
        assert!(err.to_string().contains("2 by jobs started elsewhere"), "{err}");
        ports.sagemaker.external.lock().unwrap().clear();
        acquire(&ports, &job_id, Phase::Train).await.unwrap();
    }

    #[tokio::test]
    async fn a_slot_left_by_a_dead_execution_is_reclaimed_once_its_lease_expires() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let dead = JobId::parse("dead-1").unwrap();
        let job_id = prepared_job(&ports, "weekly-1", "container").await;
        let lease_seconds = 60;
        ports.slots.insert(
            &training_pool(),
            SlotHolder::new(&dead, Phase::Train, 1, ports.clock.unix_now(), lease_seconds),
        );
        // While its lease runs, the dead execution's slot is taken.
        let err = acquire(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);

        ports.clock.advance(Duration::from_secs(120));
        acquire(&ports, &job_id, Phase::Train).await.unwrap();
        let state = ports.slots.state(&training_pool());
        assert_eq!(state.used, 1);
        assert_eq!(state.holders[0].job_id, job_id);
    }

    #[tokio::test]
    async fn a_phase_larger_than_its_pool_fails_at_once() {
        let ports = FakeRunnerPorts::new(r#"{"sagemaker-training:*": 1}"#);
        let mut form = test_form("container");
        form.container.as_mut().unwrap().instance_count = 3;
        let job_id = ports.jobs.insert_queued("big-1", form);
        ports.jobs.force_status(&job_id, JobStatus::Preparing);
        let err = acquire(&ports, &job_id, Phase::Train).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::LaunchInvalid);
    }
}
