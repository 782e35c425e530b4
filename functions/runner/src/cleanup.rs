//! `Cleanup` (the failure path) and the EventBridge rule for executions stopped or timed out
//! from outside (a cancel among them): stop whatever the job still runs, give its slots back
//! and hand them to the heads of their queues. Repeating it is harmless (EventBridge delivers
//! at least once).

use std::time::Duration;

use recoflow_core::clock::Clock;
use recoflow_core::errors::{ErrorName, TransitionError};
use recoflow_core::job::{JobFailure, JobId, JobRecord, JobStatus};
use recoflow_core::launch::Observed;
use recoflow_core::phase::{LaunchedResource, ResourceKind, ResourceState};
use recoflow_core::ports::{JobPatch, JobStore, MlService, TransitionExtras};
use recoflow_core::slot_release::{job_holders, release_job_slots};
use tracing::{info, warn};

use crate::error::RunnerError;
use crate::hand_over::serve_queue;
use crate::ports::RunnerPorts;
use crate::step::RunnerOutput;

/// How long clean-up waits for the jobs it stopped to say so (SageMaker stops take a while).
const STOP_WAIT: Duration = Duration::from_secs(20);
/// Wait between two looks at the jobs being stopped.
const STOP_POLL: Duration = Duration::from_secs(1);

/// Stops whatever the job still runs and gives its slots back. `execution_status` is set when
/// the execution ended from outside (`ABORTED`, `TIMED_OUT`): the job, if still shown running,
/// is then marked FAILED here, since no failure path will.
pub async fn cleanup<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    execution_status: Option<&str>,
) -> Result<RunnerOutput, RunnerError> {
    let Some(record) = ports.jobs().get(job_id).await? else {
        return Ok(RunnerOutput::done(job_id, "no such job; nothing to clean up"));
    };
    let Some(form) = &record.form else {
        return Ok(RunnerOutput::done(job_id, "the job never ran"));
    };
    let why = match (record.status, execution_status) {
        (JobStatus::Cancelled, _) => "job cancelled".to_owned(),
        (_, Some(status)) => format!("execution {status}"),
        _ => "job failed".to_owned(),
    };
    // Slots (and held datasets) first: they are what other jobs wait for; then the job's
    // status; then the stops, which may take a while to show.
    let released = release_job_slots(ports.slots(), &record).await?;
    // Every pool of the job, not only those this call freed: a cancel freed its slots already
    // (the API cannot count a pool's capacity) and this is the first look since.
    for (pool, _) in job_holders(&record) {
        serve_queue(ports, &pool).await;
    }
    if let Some(status) = execution_status {
        if record.status.is_running() {
            fail_stopped_execution(ports.jobs(), &record, status).await?;
        }
    }
    let stopped = stop_launched(ports, &record, ports.service(form.backend), &why).await?;
    info!(stopped = stopped.len(), released = released.len(), why = %why, "cleaned up");
    Ok(RunnerOutput::done(
        job_id,
        &format!(
            "{why}: stopped {} resource(s), released {} slot(s)",
            stopped.len(),
            released.len()
        ),
    ))
}

/// Marks FAILED a running job whose execution ended outside the failure path; a job moved on
/// meanwhile (cancelled, failed) keeps its status.
async fn fail_stopped_execution<J: JobStore>(
    jobs: &J,
    record: &JobRecord,
    execution_status: &str,
) -> Result<(), RunnerError> {
    let failure = JobFailure {
        error: ErrorName::ExecutionStopped.to_string(),
        cause: format!(
            "the job's execution ended {execution_status} outside recoflow's failure path (stopped or timed out in Step Functions)"
        ),
        status: Some(record.status),
        // No state's Catch took it: the execution itself was ended.
        state: None,
    };
    let extras = TransitionExtras {
        failure: Some(failure),
        ..TransitionExtras::default()
    };
    let detail = format!("execution {execution_status}");
    match jobs
        .transition(&record.job_id, JobStatus::Failed, &detail, extras)
        .await
    {
        Ok(()) | Err(TransitionError::Illegal { .. }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}

/// Asks the service to stop every job the record shows running, waits a little for them to end,
/// and records what the service says became of each (not what was asked). Answers the names of
/// the jobs stopped or stopping.
async fn stop_launched<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    service: &dyn MlService,
    why: &str,
) -> Result<Vec<String>, RunnerError> {
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
    let seen = wait_for_stops(ports.clock(), service, &running).await?;
    let mut stopped = Vec::new();
    for (resource, now) in running.into_iter().zip(seen) {
        let mut entry = resource.clone();
        entry.at = ports.clock().rfc3339_now();
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
        ports
            .jobs()
            .patch(&record.job_id, JobPatch::Resource(entry), None)
            .await?;
    }
    Ok(stopped)
}

/// Looks at the resources until every stoppable one has ended or `STOP_WAIT` has passed;
/// answers what was seen last of each (`None`: the service does not know it).
async fn wait_for_stops<C: Clock>(
    clock: &C,
    service: &dyn MlService,
    resources: &[&LaunchedResource],
) -> Result<Vec<Option<Observed>>, RunnerError> {
    let deadline = clock.now() + STOP_WAIT;
    loop {
        let mut seen = Vec::with_capacity(resources.len());
        for resource in resources {
            seen.push(service.observe(resource).await?);
        }
        let settled = seen.iter().zip(resources).all(|(now, resource)| {
            now.as_ref().is_none_or(|o| o.state.is_final()) || !stoppable(resource.kind)
        });
        if settled || clock.now() >= deadline {
            return Ok(seen);
        }
        clock.sleep(STOP_POLL).await;
    }
}

/// Personalize import, batch inference and batch segment jobs cannot be stopped.
fn stoppable(kind: ResourceKind) -> bool {
    !matches!(
        kind,
        ResourceKind::DatasetImportJob | ResourceKind::BatchInferenceJob | ResourceKind::BatchSegmentJob
    )
}

#[cfg(test)]
mod tests {
    use recoflow_core::phase::{job_resource_name, Phase};

    use super::*;
    use crate::acquire::acquire;
    use crate::advance::advance;
    use crate::fake::{prepared_job, training_pool, FakeRunnerPorts, LIMITS};

    /// A container job training, its training job launched.
    async fn launched_training_job(ports: &FakeRunnerPorts) -> JobId {
        let job_id = prepared_job(ports, "weekly-1", "container").await;
        acquire(ports, &job_id, Phase::Train).await.unwrap();
        advance(ports, &job_id, Phase::Train).await.unwrap();
        job_id
    }

    #[tokio::test]
    async fn cleanup_stops_what_runs_frees_the_slots_and_closes_a_stopped_execution_s_job() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = launched_training_job(&ports).await;

        cleanup(&ports, &job_id, Some("ABORTED")).await.unwrap();
        let name = job_resource_name(&job_id, Phase::Train, None, 1);
        assert_eq!(
            *ports.sagemaker.stopped.lock().unwrap(),
            std::slice::from_ref(&name)
        );
        assert_eq!(ports.slots.state(&training_pool()).used, 0);
        let record = ports.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Failed);
        let failure = record.failure.unwrap();
        assert_eq!(failure.error, "ExecutionStopped");
        assert_eq!(
            failure.status,
            Some(JobStatus::Training),
            "the status it failed in"
        );
        assert_eq!(failure.state, None, "no state's Catch took it");
        assert_eq!(record.resources[&name].state, ResourceState::Stopped);

        // Again (EventBridge delivers at least once): nothing more happens.
        cleanup(&ports, &job_id, Some("ABORTED")).await.unwrap();
        assert_eq!(ports.sagemaker.stopped.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn cleanup_on_the_failure_path_leaves_the_status_to_record_failure() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = prepared_job(&ports, "weekly-1", "container").await;
        acquire(&ports, &job_id, Phase::Train).await.unwrap();
        cleanup(&ports, &job_id, None).await.unwrap();
        assert_eq!(ports.jobs.record(&job_id).unwrap().status, JobStatus::Training);
        assert_eq!(ports.slots.state(&training_pool()).used, 0);
    }

    #[tokio::test]
    async fn cleanup_waits_for_a_slow_stop_no_longer_than_its_limit() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = launched_training_job(&ports).await;
        let name = job_resource_name(&job_id, Phase::Train, None, 1);
        // Still starting when stopped: it goes on showing that for a while.
        ports
            .sagemaker
            .set_state(&name, ResourceState::Launching, None, false);

        cleanup(&ports, &job_id, None).await.unwrap();
        let waited = *ports.clock.slept.lock().unwrap();
        assert!(
            (STOP_WAIT..=STOP_WAIT + STOP_POLL).contains(&waited),
            "waited {waited:?}"
        );
        let entry = &ports.jobs.record(&job_id).unwrap().resources[&name];
        assert_eq!(entry.state, ResourceState::Running, "as last recorded");
        assert_eq!(entry.reason.as_deref(), Some("stopping (job failed)"));
    }
}
