//! Refused forms: recorded REJECTED with every problem, moved with a report, never started.

use recoflow_core::job::{JobId, JobStatus};

use super::{event, ports, FORMS};
use crate::handler::handle_event;
use crate::submission::Outcome;

#[tokio::test]
async fn invalid_form_is_rejected_moved_and_reported_without_execution() {
    let ports = ports();
    let body = r#"{"schema_version": 2, "job_name": "Bad Name", "colour": "red"}"#;
    ports.objects.insert(FORMS, "submissions/team/bad.json", body);
    let outcomes = handle_event(&ports, event("submissions/team/bad.json", body.len()))
        .await
        .unwrap();
    let Outcome::Rejected { job_id, problems } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    assert!(*problems >= 4, "every problem is reported, got {problems}");
    let record = ports.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
    assert_eq!(record.status, JobStatus::Rejected);
    assert_eq!(record.problems.len(), *problems);
    assert_eq!(
        ports.objects.keys(),
        vec!["rejected/team/bad.json", "rejected/team/bad.json.errors.json"]
    );
    let report: serde_json::Value = serde_json::from_slice(
        &ports
            .objects
            .get(FORMS, "rejected/team/bad.json.errors.json")
            .unwrap(),
    )
    .unwrap();
    assert_eq!(report["problems"].as_array().unwrap().len(), *problems);
    assert!(ports.executions.started.lock().unwrap().is_empty());
}

#[tokio::test]
async fn oversized_form_is_refused_from_the_event_size_without_reading() {
    let ports = ports();
    // The stored body is small: if the handler read and parsed it, it would say not_json.
    ports.objects.insert(FORMS, "submissions/huge.json", "not read");
    let outcomes = handle_event(&ports, event("submissions/huge.json", 300 * 1024))
        .await
        .unwrap();
    let Outcome::Rejected { job_id, .. } = &outcomes[0] else {
        panic!("{outcomes:?}")
    };
    let record = ports.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
    assert_eq!(record.problems[0].code, "too_large");
}
