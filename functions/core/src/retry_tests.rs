use super::*;
use crate::fakes::{test_form, FakeExecutions, FakeJobStore};
use crate::job::{now_rfc3339, StatusChange};
use crate::phase::{job_resource_name, ResourceKind};

/// A job of `backend` that went through `statuses` and launched `resources` (phase, kind,
/// state).
fn job(
    backend: &str,
    statuses: &[JobStatus],
    resources: &[(Phase, ResourceKind, ResourceState)],
) -> JobRecord {
    let id = JobId::parse("spring-1").unwrap();
    let mut record = JobRecord::queued(
        id.clone(),
        JobSource::Api {
            idempotency_key: None,
        },
        test_form(backend),
        "d".into(),
        &now_rfc3339(),
    );
    for status in statuses {
        record.status = *status;
        record.history.push(StatusChange {
            status: *status,
            at: now_rfc3339(),
            detail: String::new(),
        });
    }
    for (phase, kind, state) in resources {
        let name = job_resource_name(&id, *phase, Some(&format!("{kind:?}")), 1);
        let resource = LaunchedResource {
            phase: *phase,
            kind: *kind,
            name: name.clone(),
            arn: Some(format!("arn:{name}")),
            attempt: 1,
            state: *state,
            at: now_rfc3339(),
            reason: None,
            platform_failure: false,
            reused: None,
        };
        record.resources.insert(name, resource);
    }
    record
}

use JobStatus::{Failed, Importing, Preparing, Scoring, Succeeded, Training, WaitingForQuota};
use ResourceKind::{
    BatchInferenceJob, DatasetGroup, DatasetImportJob, ProcessingJob, SolutionVersion, TrainingJob,
};
use ResourceState::{Failed as Broke, Succeeded as Done};

#[test]
fn a_container_job_failed_in_scoring_reruns_scoring_on_its_trained_model() {
    let old = job(
        "container",
        &[Preparing, Training, Scoring, Failed],
        &[
            (Phase::Train, TrainingJob, Done),
            (Phase::Score, ProcessingJob, Broke),
        ],
    );
    assert_eq!(finished_phases(&old), [Phase::Train]);
    let plan = plan_retry(&old, None).unwrap();
    assert_eq!(plan.from_phase, Phase::Score);
    assert_eq!(plan.reused.len(), 1, "the failed scoring job is not reused");
    let model = &plan.reused[0];
    assert_eq!((model.kind, model.state), (TrainingJob, Done));
    assert_eq!(model.reused.as_ref().unwrap().job_id, old.job_id);

    let record = retry_record(&old, &plan, "now").unwrap();
    assert_eq!(record.retry_of(), Some(&old.job_id));
    assert!(
        record.job_id.as_str().starts_with("spring-retry-"),
        "{}",
        record.job_id
    );
    assert_eq!(
        record.resources[&model.name].launched_by(&record.job_id),
        &old.job_id
    );
    assert_eq!(record.status, JobStatus::Queued);
    // Prepare plans the scoring alone; the old job runs its whole plan.
    assert_eq!(phases_to_run(&record), [Phase::Score]);
    assert_eq!(phases_to_run(&old), [Phase::Train, Phase::Score]);
}

#[test]
fn a_job_that_failed_before_any_phase_finished_runs_from_the_start() {
    for statuses in [
        &[Preparing, Failed][..],
        &[Preparing, WaitingForQuota, Failed],
        &[Preparing, Training, Failed],
    ] {
        let old = job("container", statuses, &[(Phase::Train, TrainingJob, Broke)]);
        let plan = plan_retry(&old, None).unwrap();
        assert_eq!(
            (plan.from_phase, plan.reused.len()),
            (Phase::Train, 0),
            "{statuses:?}"
        );
    }
}

#[test]
fn a_personalize_job_failed_in_batch_inference_reuses_its_imports_and_solution_version() {
    let old = job(
        "personalize",
        &[Preparing, Importing, Training, WaitingForQuota, Scoring, Failed],
        &[
            (Phase::Import, DatasetGroup, Done),
            (Phase::Import, DatasetImportJob, Done),
            (Phase::Train, SolutionVersion, Done),
            (Phase::Score, BatchInferenceJob, Broke),
        ],
    );
    let plan = plan_retry(&old, None).unwrap();
    assert_eq!(plan.from_phase, Phase::Score);
    let mut kinds: Vec<ResourceKind> = plan.reused.iter().map(|r| r.kind).collect();
    kinds.sort_by_key(|k| format!("{k:?}"));
    assert_eq!(kinds, [DatasetGroup, DatasetImportJob, SolutionVersion]);
    // From training: only the imports are reused.
    let plan = plan_retry(&old, Some(Phase::Train)).unwrap();
    assert!(plan.reused.iter().all(|r| r.phase == Phase::Import));
}

#[test]
fn refusals_say_why() {
    let running = job("container", &[Preparing, Training], &[]);
    assert!(matches!(
        plan_retry(&running, None),
        Err(RetryRefusal::Running { status: Training, .. })
    ));
    let succeeded = job(
        "container",
        &[Preparing, Training, Scoring, JobStatus::Delivering, Succeeded],
        &[
            (Phase::Train, TrainingJob, Done),
            (Phase::Score, ProcessingJob, Done),
        ],
    );
    let refused = plan_retry(&succeeded, None).unwrap_err();
    assert!(refused.to_string().contains("from_phase"), "{refused}");
    // A succeeded job's scoring again, with its model.
    let rescore = plan_retry(&succeeded, Some(Phase::Score)).unwrap();
    assert_eq!(rescore.reused.len(), 1);
    assert!(matches!(
        plan_retry(&succeeded, Some(Phase::Import)),
        Err(RetryRefusal::PhaseNotInPlan { .. })
    ));
    let failed_training = job("container", &[Preparing, Training, Failed], &[]);
    let refused = plan_retry(&failed_training, Some(Phase::Score)).unwrap_err();
    assert_eq!(
        refused,
        RetryRefusal::PhaseNotFinished {
            job_id: failed_training.job_id.clone(),
            phase: Phase::Score,
            unfinished: Phase::Train
        }
    );
    let mut rejected = job("container", &[], &[]);
    rejected.status = JobStatus::Rejected;
    assert!(matches!(
        plan_retry(&rejected, None),
        Err(RetryRefusal::NotRetryable { .. })
    ));
}

#[tokio::test]
async fn the_same_retry_twice_starts_one_job_and_the_old_record_points_to_it() {
    let (jobs, executions) = (FakeJobStore::default(), FakeExecutions::default());
    let old = job(
        "container",
        &[Preparing, Training, Scoring, Failed],
        &[(Phase::Train, TrainingJob, Done)],
    );
    jobs.records
        .lock()
        .unwrap()
        .insert(old.job_id.clone(), old.clone());
    let first = retry_job(&jobs, &executions, &old.job_id, None, "now")
        .await
        .unwrap();
    assert_eq!((first.from_phase, first.replayed), (Phase::Score, None));
    let again = retry_job(&jobs, &executions, &old.job_id, None, "now")
        .await
        .unwrap();
    assert_eq!(again.job_id, first.job_id);
    assert_eq!(again.replayed, Some(JobStatus::Queued));
    assert_eq!(executions.started.lock().unwrap().len(), 1);
    assert_eq!(
        jobs.record(&old.job_id).unwrap().retried_by,
        Some(first.job_id.clone())
    );

    // The retry failed in scoring too: its retry still reuses the first job's model.
    jobs.force_status(&first.job_id, Scoring);
    jobs.force_status(&first.job_id, Failed);
    let second = retry_job(&jobs, &executions, &first.job_id, None, "now")
        .await
        .unwrap();
    let record = jobs.record(&second.job_id).unwrap();
    let model = record.resources.values().next().unwrap();
    assert_eq!(model.launched_by(&second.job_id), &old.job_id);

    let unknown = JobId::parse("nope").unwrap();
    assert!(matches!(
        retry_job(&jobs, &executions, &unknown, None, "now").await,
        Err(RetryError::Refused(RetryRefusal::NotFound(_)))
    ));
}
