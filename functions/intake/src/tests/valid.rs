//! Valid forms: one job, one execution, whatever the events' repetitions and retries.

use recoflow_aws::lambda::named_diagnostic;
use recoflow_core::job::{JobId, JobStatus};

use super::{event, ports, FORMS};
use crate::handler::handle_event;
use crate::submission::Outcome;

fn valid_form() -> String {
    serde_json::json!({
        "schema_version": 1,
        "job_name": "spring-tokyo",
        "submitted_by": "ana@example.com",
        "result_set": "spring",
        "backend": "personalize",
        "dataset": {"interactions": "s3://data-bucket/interactions.csv"},
        "personalize": {}
    })
    .to_string()
}

#[tokio::test]
async fn valid_form_queues_one_job_and_starts_its_execution() {
    let ports = ports();
    let body = valid_form();
    ports
        .objects
        .insert(FORMS, "submissions/spring.json", body.clone());
    let outcomes = handle_event(&ports, event("submissions/spring.json", body.len()))
        .await
        .unwrap();
    let Outcome::Started { job_id } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let record = ports.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
    assert_eq!(record.status, JobStatus::Queued);
    assert_eq!(record.job_name.as_deref(), Some("spring-tokyo"));
    assert!(record.execution_arn.is_some());
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn the_same_event_twice_starts_one_execution() {
    let ports = ports();
    let body = valid_form();
    ports
        .objects
        .insert(FORMS, "submissions/spring.json", body.clone());
    handle_event(&ports, event("submissions/spring.json", body.len()))
        .await
        .unwrap();
    let second = handle_event(&ports, event("submissions/spring.json", body.len()))
        .await
        .unwrap();
    assert!(matches!(second[0], Outcome::Duplicate { .. }), "{second:?}");
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
    assert_eq!(ports.jobs.all().len(), 1);
}

#[tokio::test]
async fn throttled_start_fails_the_invocation_and_the_retry_completes_it() {
    let ports = ports();
    let body = valid_form();
    ports
        .objects
        .insert(FORMS, "submissions/spring.json", body.clone());
    *ports.executions.throttle.lock().unwrap() = true;
    let err = handle_event(&ports, event("submissions/spring.json", body.len()))
        .await
        .unwrap_err();
    assert_eq!(named_diagnostic(&err).error_type, "ServiceThrottled");
    assert_eq!(
        ports.jobs.all()[0].status,
        JobStatus::Queued,
        "the accepted job is kept"
    );

    *ports.executions.throttle.lock().unwrap() = false;
    let retry = handle_event(&ports, event("submissions/spring.json", body.len()))
        .await
        .unwrap();
    assert!(matches!(retry[0], Outcome::Duplicate { .. }));
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
}

fn recurring_form(schedule: serde_json::Value) -> String {
    let mut form: serde_json::Value = serde_json::from_str(&valid_form()).unwrap();
    form["schedule"] = schedule;
    form.to_string()
}

/// A recurring form dropped in S3 takes the same submit path as one posted to the API.
#[tokio::test]
async fn a_recurring_form_makes_one_schedule_and_starts_no_job() {
    let ports = ports();
    let body = recurring_form(serde_json::json!({"expression": "rate(1 day)", "overlap": "queue"}));
    ports
        .objects
        .insert(FORMS, "submissions/daily.json", body.clone());
    let outcomes = handle_event(&ports, event("submissions/daily.json", body.len()))
        .await
        .unwrap();
    let Outcome::Scheduled { schedule_id } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(ports.scheduler.schedule(schedule_id).is_some());
    assert!(ports.jobs.all().is_empty());
    // The event again: the same schedule, nothing new.
    let again = handle_event(&ports, event("submissions/daily.json", body.len()))
        .await
        .unwrap();
    assert!(
        matches!(&again[0], Outcome::Duplicate { job_id } if job_id == schedule_id),
        "{again:?}"
    );
    assert_eq!(ports.schedules.records.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_schedule_starting_long_ago_is_rejected_with_the_problem() {
    let ports = ports();
    let body =
        recurring_form(serde_json::json!({"expression": "rate(1 day)", "start": "2020-01-01T00:00:00Z"}));
    ports.objects.insert(FORMS, "submissions/old.json", body.clone());
    let outcomes = handle_event(&ports, event("submissions/old.json", body.len()))
        .await
        .unwrap();
    let Outcome::Rejected { job_id, .. } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let record = ports.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
    assert_eq!(record.status, JobStatus::Rejected);
    assert_eq!(record.problems[0].code, "in_the_past");
    assert!(ports.schedules.records.lock().unwrap().is_empty());
}
