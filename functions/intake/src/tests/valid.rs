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
