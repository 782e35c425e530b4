//! The runner's steps as scenarios, on fakes that keep the real rules (conditional job writes,
//! slot capacity, services that refuse and fail).

use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::fakes::{test_form, FakeJobStore, FakeLimits, FakeMlService, FakeSlots};
use recoflow_core::job::{JobId, JobStatus, Prepared, PreparedFile};
use recoflow_core::launch::ResourceSpec;
use recoflow_core::phase::{job_resource_name, Phase, ResourceKind, ResourceState};
use recoflow_core::ports::{JobPatch, JobStore, TransitionExtras};
use recoflow_core::quota::{Pool, ServiceJob, SlotHolder};
use recoflow_core::task::{PhaseProgress, RunnerTask};

use crate::handler::{handle, unix_now, RunnerDeps, RunnerError, RunnerOutput, RunnerSettings};

type Deps = RunnerDeps<FakeJobStore, FakeSlots, FakeLimits, FakeMlService, FakeMlService>;

fn deps(limits: &str) -> Deps {
    RunnerDeps {
        jobs: FakeJobStore::default(),
        slots: FakeSlots::default(),
        limits: FakeLimits::new(limits),
        sagemaker: FakeMlService::default(),
        personalize: FakeMlService::default(),
        settings: RunnerSettings {
            results_bucket: "results".into(),
            poll_seconds: 2,
            lease_seconds: 60,
            phase_timeout_seconds: 3600,
            max_attempts: 3,
            relaunch_base_seconds: 1,
        },
    }
}

const LIMITS: &str = r#"{"sagemaker-training:*": 2, "sagemaker-processing:*": 4,
    "personalize-dataset-imports": 5, "personalize-solution-versions": 2, "personalize-batch-inference": 2}"#;

/// A prepared job of this backend, as Prepare leaves it.
async fn prepared_job(deps: &Deps, id: &str, backend: &str) -> JobId {
    let job_id = deps.jobs.insert_queued(id, test_form(backend));
    deps.jobs.force_status(&job_id, JobStatus::Preparing);
    let prepared = Prepared {
        files: vec![
            PreparedFile {
                field: "dataset.interactions".into(),
                uri: "s3://data/i.csv".into(),
                bytes: 100,
                columns: vec!["USER_ID".into(), "ITEM_ID".into(), "TIMESTAMP".into()],
            },
            PreparedFile {
                field: "dataset.users".into(),
                uri: "s3://data/u.csv".into(),
                bytes: 100,
                columns: vec!["USER_ID".into(), "GENDER".into()],
            },
        ],
        scoring_input: format!("s3://results/jobs/{id}/input/users.jsonl"),
        users_to_score: 2,
    };
    deps.jobs
        .patch(&job_id, JobPatch::Prepared(prepared), None)
        .await
        .unwrap();
    job_id
}

async fn run(deps: &Deps, task: RunnerTask) -> Result<RunnerOutput, RunnerError> {
    handle(deps, task).await
}

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

fn training_pool() -> Pool {
    Pool::SageMakerTraining {
        instance_type: "ml.m5.large".into(),
    }
}

#[tokio::test]
async fn a_container_job_trains_then_scores_with_its_model() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;

    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(deps.slots.state(&training_pool()).used, 1);
    let first = progress(run(&deps, advance(&job_id, Phase::Train)).await.unwrap());
    assert_eq!(
        first,
        PhaseProgress {
            done: false,
            wait_seconds: 2
        }
    );
    let training = job_resource_name(&job_id, Phase::Train, None, 1);
    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Training);
    assert_eq!(record.resources[&training].state, ResourceState::Running);
    assert!(record.resources[&training].arn.is_some());

    // Still running: a second look creates nothing new.
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(*deps.sagemaker.create_calls.lock().unwrap(), 1);

    deps.sagemaker
        .set_state(&training, ResourceState::Succeeded, None, false);
    assert!(progress(run(&deps, advance(&job_id, Phase::Train)).await.unwrap()).done);
    run(&deps, release(&job_id, Phase::Train)).await.unwrap();
    assert_eq!(deps.slots.state(&training_pool()).used, 0);

    run(&deps, acquire(&job_id, Phase::Score)).await.unwrap();
    run(&deps, advance(&job_id, Phase::Score)).await.unwrap();
    let scoring = job_resource_name(&job_id, Phase::Score, None, 1);
    let Some(ResourceSpec::ProcessingJob(spec)) = deps.sagemaker.spec(&scoring) else {
        panic!("no processing job")
    };
    assert!(spec.inputs[0].s3_uri.contains(&training), "{:?}", spec.inputs);
    assert_eq!(spec.output.1, "s3://results/jobs/weekly-1/scores/");
    let statuses = deps.jobs.statuses(&job_id);
    assert_eq!(
        &statuses[statuses.len() - 2..],
        [JobStatus::Training, JobStatus::Scoring]
    );
}

#[tokio::test]
async fn a_full_pool_makes_the_job_wait_quietly_and_a_retry_never_takes_two_slots() {
    let deps = deps(r#"{"sagemaker-training:*": 1}"#);
    let first = prepared_job(&deps, "first-1", "container").await;
    let second = prepared_job(&deps, "second-1", "container").await;
    run(&deps, acquire(&first, Phase::Train)).await.unwrap();
    // A retried acquire of the same phase is the same holder.
    run(&deps, acquire(&first, Phase::Train)).await.unwrap();
    assert_eq!(deps.slots.state(&training_pool()).used, 1);

    for _ in 0..3 {
        let err = run(&deps, acquire(&second, Phase::Train)).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);
    }
    let statuses = deps.jobs.statuses(&second);
    assert_eq!(
        statuses
            .iter()
            .filter(|s| **s == JobStatus::WaitingForQuota)
            .count(),
        1,
        "waiting is recorded once, not at every retry: {statuses:?}"
    );

    run(&deps, release(&first, Phase::Train)).await.unwrap();
    run(&deps, release(&first, Phase::Train)).await.unwrap();
    run(&deps, acquire(&second, Phase::Train)).await.unwrap();
    assert_eq!(deps.jobs.record(&second).unwrap().status, JobStatus::Training);
    assert_eq!(deps.slots.state(&training_pool()).used, 1);
}

#[tokio::test]
async fn jobs_started_outside_recoflow_count_against_the_pool() {
    let deps = deps(r#"{"sagemaker-training:*": 2}"#);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    deps.sagemaker.external.lock().unwrap().push(ServiceJob {
        name: "a-data-scientists-notebook-job".into(),
        units: 2,
    });
    let err = run(&deps, acquire(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::QuotaUnavailable);
    assert!(err.to_string().contains("2 by jobs started elsewhere"), "{err}");
    deps.sagemaker.external.lock().unwrap().clear();
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
}

#[tokio::test]
async fn a_slot_left_by_a_dead_execution_is_reclaimed_once_its_lease_expires() {
    let deps = deps(r#"{"sagemaker-training:*": 1}"#);
    let dead = JobId::parse("dead-1").unwrap();
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    deps.slots.insert(
        &training_pool(),
        SlotHolder::new(&dead, Phase::Train, 1, unix_now() - 120, 60),
    );
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    let state = deps.slots.state(&training_pool());
    assert_eq!(state.used, 1);
    assert_eq!(state.holders[0].job_id, job_id);
}

#[tokio::test]
async fn a_phase_larger_than_its_pool_fails_at_once() {
    let deps = deps(r#"{"sagemaker-training:*": 1}"#);
    let mut form = test_form("container");
    form.container.as_mut().unwrap().instance_count = 3;
    let job_id = deps.jobs.insert_queued("big-1", form);
    deps.jobs.force_status(&job_id, JobStatus::Preparing);
    let err = run(&deps, acquire(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::LaunchInvalid);
}

#[tokio::test]
async fn a_refused_launch_waits_for_quota_then_launches() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    *deps.sagemaker.refuse_creates.lock().unwrap() = 1;
    let err = run(&deps, advance(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::LaunchRefused);
    assert_eq!(
        deps.jobs.record(&job_id).unwrap().status,
        JobStatus::WaitingForQuota
    );

    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    let statuses = deps.jobs.statuses(&job_id);
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
async fn a_platform_failure_is_relaunched_and_every_attempt_is_kept() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    let first = job_resource_name(&job_id, Phase::Train, None, 1);
    deps.sagemaker.set_state(
        &first,
        ResourceState::Failed,
        Some("InternalServerError: We encountered an internal error."),
        true,
    );
    let waiting = progress(run(&deps, advance(&job_id, Phase::Train)).await.unwrap());
    assert!(!waiting.done);
    assert!((1..=20).contains(&waiting.wait_seconds));
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    let second = job_resource_name(&job_id, Phase::Train, None, 2);
    deps.sagemaker
        .set_state(&second, ResourceState::Succeeded, None, false);
    assert!(progress(run(&deps, advance(&job_id, Phase::Train)).await.unwrap()).done);

    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.resources[&first].state, ResourceState::Failed);
    assert!(record.resources[&first].platform_failure);
    assert_eq!(record.resources[&second].attempt, 2);
    assert_eq!(record.resources[&second].state, ResourceState::Succeeded);
}

#[tokio::test]
async fn platform_failures_stop_being_relaunched_after_the_last_attempt() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    let mut last = None;
    for attempt in 1..=3 {
        run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
        let name = job_resource_name(&job_id, Phase::Train, None, attempt);
        deps.sagemaker.set_state(
            &name,
            ResourceState::Failed,
            Some("CapacityError: Unable to provision requested ML compute capacity."),
            true,
        );
        last = Some(run(&deps, advance(&job_id, Phase::Train)).await);
    }
    let err = last.unwrap().unwrap_err();
    assert_eq!(err.error_name(), ErrorName::PlatformFailed);
    assert!(err.to_string().contains("CapacityError"), "{err}");
}

#[tokio::test]
async fn a_failing_container_fails_the_phase_with_its_reason() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    let name = job_resource_name(&job_id, Phase::Train, None, 1);
    deps.sagemaker.set_state(
        &name,
        ResourceState::Failed,
        Some("AlgorithmError: interactions.csv:3 column TIMESTAMP: expected an integer, exit code: 1"),
        false,
    );
    let err = run(&deps, advance(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::TrainingFailed);
    assert!(err.to_string().contains("column TIMESTAMP"), "{err}");
    assert_eq!(*deps.sagemaker.create_calls.lock().unwrap(), 1, "no relaunch");
}

#[tokio::test]
async fn an_invalid_launch_fails_without_retrying() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    *deps.sagemaker.invalid_create.lock().unwrap() =
        Some("ValidationException: image cannot be pulled".into());
    let err = run(&deps, advance(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::LaunchInvalid);
}

#[tokio::test]
async fn a_cancelled_job_launches_nothing() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    deps.jobs
        .transition(&job_id, JobStatus::Cancelled, "test", TransitionExtras::default())
        .await
        .unwrap();
    let err = run(&deps, advance(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::JobCancelled);
    assert_eq!(*deps.sagemaker.create_calls.lock().unwrap(), 0);
}

#[tokio::test]
async fn a_phase_over_its_time_limit_is_stopped() {
    let mut deps = deps(LIMITS);
    deps.settings.phase_timeout_seconds = 0;
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let err = run(&deps, advance(&job_id, Phase::Train)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::PhaseTimedOut);
    assert_eq!(deps.sagemaker.stopped.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn cleanup_stops_what_runs_frees_the_slots_and_closes_a_stopped_execution_s_job() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    run(&deps, advance(&job_id, Phase::Train)).await.unwrap();

    let task = RunnerTask::Cleanup {
        job_id: job_id.clone(),
        execution_status: Some("ABORTED".into()),
    };
    run(&deps, task.clone()).await.unwrap();
    let name = job_resource_name(&job_id, Phase::Train, None, 1);
    assert_eq!(
        *deps.sagemaker.stopped.lock().unwrap(),
        std::slice::from_ref(&name)
    );
    assert_eq!(deps.slots.state(&training_pool()).used, 0);
    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    assert_eq!(record.failure.unwrap().error, "ExecutionStopped");
    assert_eq!(record.resources[&name].state, ResourceState::Stopped);

    // Again (EventBridge delivers at least once): nothing more happens.
    run(&deps, task).await.unwrap();
    assert_eq!(deps.sagemaker.stopped.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn cleanup_on_the_failure_path_leaves_the_status_to_record_failure() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "weekly-1", "container").await;
    run(&deps, acquire(&job_id, Phase::Train)).await.unwrap();
    let task = RunnerTask::Cleanup {
        job_id: job_id.clone(),
        execution_status: None,
    };
    run(&deps, task).await.unwrap();
    assert_eq!(deps.jobs.record(&job_id).unwrap().status, JobStatus::Training);
    assert_eq!(deps.slots.state(&training_pool()).used, 0);
}

#[tokio::test]
async fn a_personalize_import_waits_for_each_stage() {
    let deps = deps(LIMITS);
    let job_id = prepared_job(&deps, "spring-1", "personalize").await;
    run(&deps, acquire(&job_id, Phase::Import)).await.unwrap();
    assert_eq!(
        deps.slots.state(&Pool::PersonalizeImports).used,
        2,
        "one unit per data file"
    );

    // First look: the dataset group and schemas; datasets wait for them.
    run(&deps, advance(&job_id, Phase::Import)).await.unwrap();
    assert_eq!(deps.personalize.names().len(), 3);
    // Then the datasets, then the imports.
    run(&deps, advance(&job_id, Phase::Import)).await.unwrap();
    assert_eq!(deps.personalize.names().len(), 5);
    let last = progress(run(&deps, advance(&job_id, Phase::Import)).await.unwrap());
    assert!(!last.done);
    assert_eq!(deps.personalize.names().len(), 7);
    let imports = deps
        .personalize
        .names()
        .iter()
        .filter(|n| deps.personalize.spec(n).unwrap().kind() == ResourceKind::DatasetImportJob)
        .count();
    assert_eq!(imports, 2);
    for name in deps.personalize.names() {
        deps.personalize
            .set_state(&name, ResourceState::Succeeded, None, false);
    }
    assert!(progress(run(&deps, advance(&job_id, Phase::Import)).await.unwrap()).done);
    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Importing);
    assert_eq!(record.resources.len(), 7);
}

#[tokio::test]
async fn a_rerun_of_a_result_set_reuses_its_personalize_resources() {
    let deps = deps(LIMITS);
    for id in ["spring-1", "spring-2"] {
        let job_id = prepared_job(&deps, id, "personalize").await;
        run(&deps, acquire(&job_id, Phase::Import)).await.unwrap();
        for _ in 0..4 {
            run(&deps, advance(&job_id, Phase::Import)).await.unwrap();
            for name in deps.personalize.names() {
                deps.personalize
                    .set_state(&name, ResourceState::Succeeded, None, false);
            }
        }
    }
    // One dataset group, two schemas, two datasets; two import jobs per job.
    assert_eq!(deps.personalize.names().len(), 5 + 2 * 2);
}
