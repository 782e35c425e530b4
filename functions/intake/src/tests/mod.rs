//! Intake scenarios on fakes: S3 events in, jobs, executions and moved forms out.

mod rejected;
mod valid;

use aws_lambda_events::event::s3::S3Event;
use recoflow_core::fakes::{
    FakeClock, FakeExecutions, FakeJobStore, FakeObjects, FakeScheduleStore, FakeScheduler, FakeTriggerStore,
};
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::validation::ValidationRules;

use crate::handler::handle_event;
use crate::ports::intake_ports_struct;
use crate::submission::Outcome;

const FORMS: &str = "forms-bucket";

intake_ports_struct!(FakeIntakePorts {
    jobs: FakeJobStore,
    executions: FakeExecutions,
    schedules: FakeScheduleStore,
    scheduler: FakeScheduler,
    triggers: FakeTriggerStore,
    objects: FakeObjects,
    clock: FakeClock,
});

fn ports() -> FakeIntakePorts {
    FakeIntakePorts {
        jobs: FakeJobStore::default(),
        executions: FakeExecutions::default(),
        schedules: FakeScheduleStore::default(),
        scheduler: FakeScheduler::default(),
        triggers: FakeTriggerStore::default(),
        objects: FakeObjects::default(),
        clock: FakeClock::default(),
        rules: ValidationRules::from_allow_list("data-bucket"),
    }
}

fn event(key: &str, size: usize) -> S3Event {
    serde_json::from_value(serde_json::json!({
        "Records": [{
            "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
            "eventTime": "2026-11-23T00:00:00.000Z", "eventName": "ObjectCreated:Put",
            "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
            "responseElements": {},
            "s3": {
                "s3SchemaVersion": "1.0", "configurationId": "forms",
                "bucket": {"name": FORMS, "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::forms-bucket"},
                "object": {"key": key, "size": size, "eTag": "etag-1", "sequencer": "01"}
            }
        }]
    }))
    .unwrap()
}

#[tokio::test]
async fn objects_outside_submissions_are_ignored() {
    let ports = ports();
    let outcomes = handle_event(&ports, event("rejected/x.json", 10)).await.unwrap();
    assert!(matches!(outcomes[0], Outcome::Ignored { .. }));
    assert!(ports.jobs.all().is_empty());
}

#[test]
fn event_keys_are_url_decoded() {
    assert_eq!(
        decode_event_key("submissions/spring+sale%28v2%29.json"),
        "submissions/spring sale(v2).json"
    );
}
