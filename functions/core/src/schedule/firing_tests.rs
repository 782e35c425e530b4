use super::*;
use crate::fakes::{test_form, FakeSubmitPorts};
use crate::job::JobStatus;
use crate::schedule::{ScheduleSettings, ScheduleState};
use crate::submit::{submit_form, FormSubmission, FormSubmitted};

/// A schedule made through the submit path, every minute, with this overlap; its id.
async fn schedule(ports: &FakeSubmitPorts, overlap: Overlap) -> ScheduleId {
    let mut form = test_form("personalize");
    form.schedule = Some(ScheduleSettings {
        expression: "rate(1 minute)".into(),
        timezone: "UTC".into(),
        start: None,
        end: None,
        overlap,
    });
    let submission = FormSubmission {
        job_id: JobId::for_idempotency_key("k"),
        source: JobSource::Api {
            idempotency_key: Some("k".into()),
        },
        form,
        form_digest: "d".into(),
    };
    match submit_form(ports, submission).await.unwrap() {
        FormSubmitted::Schedule { schedule_id, .. } => schedule_id,
        other => panic!("{other:?}"),
    }
}

fn firing(id: &ScheduleId, minute: u32) -> Firing {
    Firing {
        schedule_id: id.clone(),
        scheduled_time: format!("2026-12-01T03:{minute:02}:00Z"),
        execution_id: Some(format!("e{minute}")),
        force: false,
    }
}

fn started(outcome: &FiringOutcome) -> JobId {
    match outcome {
        FiringOutcome::Started { job_id } => job_id.clone(),
        other => panic!("not started: {other:?}"),
    }
}

#[tokio::test]
async fn each_firing_starts_its_own_job_once() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Skip).await;
    assert!(
        ports.jobs.all().is_empty(),
        "a recurring form starts no job by itself"
    );
    let first = started(&start_firing(&ports, &firing(&id, 0)).await.unwrap());
    assert!(first.as_str().starts_with("spring-20261201t030000z-"), "{first}");
    // Delivered again: the same job, nothing started.
    let again = start_firing(&ports, &firing(&id, 0)).await.unwrap();
    assert_eq!(
        again,
        FiringOutcome::Duplicate {
            job_id: first.clone(),
            status: JobStatus::Queued
        }
    );
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

    let job = ports.jobs.record(&first).unwrap();
    assert!(
        job.form.as_ref().unwrap().schedule.is_none(),
        "the job runs the form, not the schedule"
    );
    assert_eq!(
        job.source,
        JobSource::Schedule {
            schedule_id: id.to_string(),
            scheduled_time: "2026-12-01T03:00:00Z".into()
        }
    );
    // The next firing, once the first job ended, starts another job with another id.
    ports.jobs.force_status(&first, JobStatus::Succeeded);
    let second = started(&start_firing(&ports, &firing(&id, 1)).await.unwrap());
    assert_ne!(first, second);
    let record = ports.schedules.record(id.as_str()).unwrap();
    let runs: Vec<(&JobId, RunOutcome)> = record.runs.iter().map(|r| (&r.job_id, r.outcome)).collect();
    assert_eq!(
        runs,
        [(&first, RunOutcome::Started), (&second, RunOutcome::Started)]
    );
    assert_eq!(record.active_job, Some(second));
}

#[tokio::test]
async fn a_firing_while_the_previous_job_runs_is_skipped_naming_it() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Skip).await;
    let first = started(&start_firing(&ports, &firing(&id, 0)).await.unwrap());
    ports.jobs.force_status(&first, JobStatus::Training);
    let outcome = start_firing(&ports, &firing(&id, 1)).await.unwrap();
    let FiringOutcome::Skipped { job_id, running } = outcome else {
        panic!("{outcome:?}")
    };
    assert_eq!(running, first);
    let skipped = ports.jobs.record(&job_id).unwrap();
    assert_eq!(skipped.status, JobStatus::Skipped);
    let why = skipped.skipped.unwrap();
    assert_eq!((why.cause, &why.job_id), (SkipCause::Overlap, &first));
    assert!(
        why.reason.contains(first.as_str()) && why.reason.contains("TRAINING"),
        "{}",
        why.reason
    );
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
    // A re-delivery of the skipped firing changes nothing.
    let again = start_firing(&ports, &firing(&id, 1)).await.unwrap();
    assert!(matches!(
        again,
        FiringOutcome::Duplicate {
            status: JobStatus::Skipped,
            ..
        }
    ));
}

#[tokio::test]
async fn queued_firings_start_in_turn_when_the_running_job_ends() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Queue).await;
    let first = started(&start_firing(&ports, &firing(&id, 0)).await.unwrap());
    ports.jobs.force_status(&first, JobStatus::Scoring);
    let FiringOutcome::Queued {
        job_id: second,
        behind,
    } = start_firing(&ports, &firing(&id, 1)).await.unwrap()
    else {
        panic!("not queued")
    };
    assert_eq!(behind, first);
    let FiringOutcome::Queued {
        job_id: third,
        behind,
    } = start_firing(&ports, &firing(&id, 2)).await.unwrap()
    else {
        panic!("not queued")
    };
    assert_eq!(behind, second, "the third waits behind the second");
    let waiting = ports.jobs.record(&second).unwrap();
    assert_eq!(
        (waiting.status, waiting.execution_arn.as_deref()),
        (JobStatus::Queued, None)
    );
    assert!(waiting.history.last().unwrap().detail.contains(first.as_str()));

    // The first job's execution ends: the second starts, the third still waits.
    ports.jobs.force_status(&first, JobStatus::Succeeded);
    assert_eq!(job_ended(&ports, &first).await.unwrap(), Some(second.clone()));
    assert!(ports.jobs.record(&second).unwrap().execution_arn.is_some());
    assert!(ports.jobs.record(&third).unwrap().execution_arn.is_none());
    // The same end event again starts nothing more.
    assert_eq!(job_ended(&ports, &first).await.unwrap(), None);
    // The end event of the second is lost; the next firing moves the queue on itself.
    ports.jobs.force_status(&second, JobStatus::Failed);
    let fourth = start_firing(&ports, &firing(&id, 3)).await.unwrap();
    assert!(
        matches!(fourth, FiringOutcome::Queued { ref behind, .. } if *behind == third),
        "{fourth:?}"
    );
    assert!(ports.jobs.record(&third).unwrap().execution_arn.is_some());
    let record = ports.schedules.record(id.as_str()).unwrap();
    assert_eq!(record.active_job, Some(third));
    assert_eq!(record.waiting.len(), 1);
}

#[tokio::test]
async fn the_queue_is_bounded_and_cancelled_waiters_are_passed_over() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Queue).await;
    let first = started(&start_firing(&ports, &firing(&id, 0)).await.unwrap());
    ports.jobs.force_status(&first, JobStatus::Training);
    let mut waiting = Vec::new();
    for minute in 1..=MAX_WAITING as u32 {
        match start_firing(&ports, &firing(&id, minute)).await.unwrap() {
            FiringOutcome::Queued { job_id, .. } => waiting.push(job_id),
            other => panic!("{other:?}"),
        }
    }
    let full = start_firing(&ports, &firing(&id, 59)).await.unwrap();
    let FiringOutcome::Skipped { job_id, .. } = full else {
        panic!("{full:?}")
    };
    assert!(ports
        .jobs
        .record(&job_id)
        .unwrap()
        .skipped
        .unwrap()
        .reason
        .contains("at most 10"));
    // The first waiter was cancelled meanwhile: the end of the running job starts the second.
    ports.jobs.force_status(&waiting[0], JobStatus::Cancelled);
    ports.jobs.force_status(&first, JobStatus::Succeeded);
    assert_eq!(job_ended(&ports, &first).await.unwrap(), Some(waiting[1].clone()));
}

#[tokio::test]
async fn a_lost_race_is_decided_again_and_paused_schedules_start_nothing() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Skip).await;
    *ports.schedules.losing_replaces.lock().unwrap() = 2;
    let job_id = started(&start_firing(&ports, &firing(&id, 0)).await.unwrap());
    assert_eq!(
        ports.schedules.record(id.as_str()).unwrap().active_job,
        Some(job_id)
    );

    let mut record = ports.schedules.record(id.as_str()).unwrap();
    record.state = ScheduleState::Paused;
    ports.schedules.insert(record);
    let paused = start_firing(&ports, &firing(&id, 5)).await.unwrap();
    assert!(matches!(paused, FiringOutcome::Ignored { .. }), "{paused:?}");
    let unknown = Firing {
        schedule_id: ScheduleId::parse("nope").unwrap(),
        ..firing(&id, 6)
    };
    assert!(matches!(
        start_firing(&ports, &unknown).await.unwrap(),
        FiringOutcome::Ignored { .. }
    ));
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_start_that_failed_after_the_decision_is_finished_by_the_retry() {
    let ports = FakeSubmitPorts::default();
    let id = schedule(&ports, Overlap::Skip).await;
    *ports.executions.throttle.lock().unwrap() = true;
    assert!(start_firing(&ports, &firing(&id, 0)).await.is_err());
    *ports.executions.throttle.lock().unwrap() = false;
    // The Scheduler retries the firing: the job (QUEUED, no execution) is started.
    let retried = start_firing(&ports, &firing(&id, 0)).await.unwrap();
    assert!(matches!(retried, FiringOutcome::Duplicate { .. }), "{retried:?}");
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
}
