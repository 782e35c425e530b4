//! A rejected form's message, from the report intake wrote beside it.

use recoflow_core::job::{now_rfc3339, JobId, JobRecord, JobSource};
use recoflow_core::task::NotifyState;

use super::ports;
use crate::handler::{handle, NotifyEvent};

#[tokio::test]
async fn a_rejected_form_is_told_from_its_report() {
    let ports = ports();
    let job_id = JobId::parse("bad-1").unwrap();
    let record = JobRecord::rejected(
        job_id.clone(),
        JobSource::S3 {
            bucket: "forms".into(),
            key: "submissions/bad.json".into(),
            version: "v1".into(),
        },
        None,
        Vec::new(),
        &now_rfc3339(),
    );
    ports.jobs.records.lock().unwrap().insert(job_id.clone(), record);
    let report = serde_json::json!({
        "job_id": "bad-1", "form": "s3://forms/submissions/bad.json", "rejected_at": "now",
        "problems": [{"path": "$.segment.age", "code": "age_range_inverted", "message": "min is over max"}]
    });
    ports
        .objects
        .insert("forms", "rejected/bad.json.errors.json", report.to_string());
    let event: NotifyEvent = serde_json::from_value(serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-23T00:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "rejections",
            "bucket": {"name": "forms", "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::forms"},
            "object": {"key": "rejected/bad.json.errors.json", "size": 10, "eTag": "e", "sequencer": "01"}}
    }]}))
    .unwrap();
    assert_eq!(handle(&ports, event).await.unwrap().state, NotifyState::Delivered);
    let posted = ports.poster.posted();
    assert!(posted[0]["text"]
        .as_str()
        .unwrap()
        .contains("s3://forms/rejected/bad.json.errors.json"));
    assert!(posted[0]["blocks"].to_string().contains("min is over max"));
}
