//! The runner as the state machine drives it: tasks through the dispatcher, on fakes that keep
//! the real rules. Each state's own cases sit beside it (acquire.rs, advance.rs, cleanup.rs).

use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::launch::ResourceSpec;
use recoflow_core::phase::{job_resource_name, Phase, ResourceState};
use recoflow_core::task::{PhaseProgress, RunnerTask};

use crate::fake::{prepared_job, training_pool, FakeRunnerPorts, LIMITS};
use crate::handler::handle;
use crate::step::RunnerOutput;

fn acquire(job_id: &JobId, phase: Phase) -> RunnerTask {
    RunnerTask::Acquire {
        job_id: job_id.clone(),
        phase,
    }
}

fn advance(job_id: &JobId, phase: Phase) -> RunnerTask {
    RunnerTask::Advance {
        job_id: job_id.clone(),
        phase,
    }
}

fn release(job_id: &JobId, phase: Phase) -> RunnerTask {
    RunnerTask::Release {
        job_id: job_id.clone(),
        phase,
    }
}

fn progress(output: RunnerOutput) -> PhaseProgress {
    match output {
        RunnerOutput::Progress(progress) => progress,
        other => panic!("expected progress, got {other:?}"),
    }
}

#[tokio::test]
async fn a_container_job_trains_then_scores_with_its_model() {
    let ports = FakeRunnerPorts::new(LIMITS);
    let job_id = prepared_job(&ports, "weekly-1", "container").await;

    handle(&ports, acquire(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(ports.slots.state(&training_pool()).used, 1);
    let first = progress(handle(&ports, advance(&job_id, Phase::Train)).await.unwrap());
    assert_eq!(
        first,
        PhaseProgress {
            done: false,
            wait_seconds: 2
        }
    );
    let training = job_resource_name(&job_id, Phase::Train, None, 1);
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Training);
    assert_eq!(record.resources[&training].state, ResourceState::Running);
    assert!(record.resources[&training].arn.is_some());

    // Still running: a second look creates nothing new.
    handle(&ports, advance(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(*ports.sagemaker.create_calls.lock().unwrap(), 1);

    ports
        .sagemaker
        .set_state(&training, ResourceState::Succeeded, None, false);
    assert!(progress(handle(&ports, advance(&job_id, Phase::Train)).await.unwrap()).done);
    handle(&ports, release(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(ports.slots.state(&training_pool()).used, 0);

    handle(&ports, acquire(&job_id, Phase::Score)).await.unwrap();
    handle(&ports, advance(&job_id, Phase::Score)).await.unwrap();
    let scoring = job_resource_name(&job_id, Phase::Score, None, 1);
    let Some(ResourceSpec::ProcessingJob(spec)) = ports.sagemaker.spec(&scoring) else {
        panic!("no processing job")
    };
    assert!(spec.inputs[0].s3_uri.contains(&training), "{:?}", spec.inputs);
    assert_eq!(spec.output.1, "s3://results/jobs/weekly-1/scores/");
    let statuses = ports.jobs.statuses(&job_id);
    assert_eq!(
        &statuses[statuses.len() - 2..],
        [JobStatus::Training, JobStatus::Scoring]
    );
}

#[tokio::test]
async fn the_event_bridge_clean_up_of_a_timed_out_execution_fails_its_job() {
    let ports = FakeRunnerPorts::new(LIMITS);
    let job_id = prepared_job(&ports, "weekly-1", "container").await;
    handle(&ports, acquire(&job_id, Phase::Train)).await.unwrap();
    // The task as the EventBridge rule's input transformer writes it.
    let task: RunnerTask = serde_json::from_value(serde_json::json!({
        "action": "cleanup", "job_id": "weekly-1", "execution_status": "TIMED_OUT"
    }))
    .unwrap();
    let RunnerOutput::Done { detail, .. } = handle(&ports, task).await.unwrap() else {
        panic!("clean-up answers what it did")
    };
    assert_eq!(
        detail,
        "execution TIMED_OUT: stopped 0 resource(s), released 1 slot(s)"
    );
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert!(record.failure.unwrap().cause.contains("TIMED_OUT"));
}
