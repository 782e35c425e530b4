//! Notification scenarios on fakes: once per job, retries within a budget, folding.

use std::time::Duration;

use recoflow_core::fakes::{
    test_form, FakeClock, FakeFolds, FakeJobStore, FakeObjects, FakePoster, FakeSecret,
};
use recoflow_core::job::{JobFailure, JobId, JobStatus};
use recoflow_core::notification::NotificationState;
use recoflow_core::ports::{JobPatch, JobStore, TransitionExtras};
use recoflow_core::task::NotifyTask;

use crate::handler::{handle, NotifyDeps, NotifyEvent, NotifySettings};

type Deps = NotifyDeps<FakeJobStore, FakeObjects, FakeFolds, FakeSecret, FakePoster, FakeClock>;

fn deps() -> Deps {
    NotifyDeps {
        jobs: FakeJobStore::default(),
        objects: FakeObjects::default(),
        folds: FakeFolds::default(),
        webhook: FakeSecret(Some("https://hooks.slack.test/services/T/B/secret".into())),
        api_url: FakeSecret(Some("https://api.test/Prod".into())),
        poster: FakePoster::default(),
        clock: FakeClock::default(),
        settings: NotifySettings {
            region: "us-east-1".into(),
            functions: vec![("TRAINING".into(), "recoflow-RunnerFunction".into())],
            retry_budget: Duration::from_secs(180),
            fold_window_seconds: 60,
            fold_max_messages: 3,
        },
    }
}

async fn failed_job(deps: &Deps, id: &str, error: &str, cause: &str) -> JobId {
    let job_id = deps.jobs.insert_queued(id, test_form("container"));
    let arn = format!("arn:aws:states:us-east-1:000000000000:execution:jobs:{id}");
    deps.jobs
        .patch(&job_id, JobPatch::ExecutionArn(arn), None)
        .await
        .unwrap();
    deps.jobs.force_status(&job_id, JobStatus::Training);
    let extras = TransitionExtras {
        failure: Some(JobFailure {
            error: error.into(),
            cause: cause.into(),
            state: "TRAINING".into(),
        }),
        ..TransitionExtras::default()
    };
    deps.jobs
        .transition(&job_id, JobStatus::Failed, "failed", extras)
        .await
        .unwrap();
    job_id
}

fn failure(job_id: &JobId) -> NotifyEvent {
    NotifyEvent::Task(NotifyTask::Failure {
        job_id: job_id.clone(),
    })
}

#[tokio::test]
async fn a_failed_job_gets_one_message_even_when_the_step_is_retried() {
    let deps = deps();
    let job_id = failed_job(
        &deps,
        "weekly-1",
        "TrainingFailed",
        "AlgorithmError: out of memory",
    )
    .await;
    let first = handle(&deps, failure(&job_id)).await.unwrap();
    assert_eq!(first.state, "DELIVERED");
    let again = handle(&deps, failure(&job_id)).await.unwrap();
    assert_eq!(again.state, "ALREADY_NOTIFIED");
    let posted = deps.poster.posted();
    assert_eq!(posted.len(), 1);
    let text = posted[0]["text"].as_str().unwrap();
    assert!(
        text.contains("weekly-1") && text.contains("TrainingFailed") && text.contains("model/container"),
        "{text}"
    );
    let blocks = posted[0]["blocks"].to_string();
    assert!(
        blocks.contains("states/home?region=us-east-1#/v2/executions/details/arn:aws:states"),
        "{blocks}"
    );
    assert!(blocks.contains("https://api.test/Prod/jobs/weekly-1"));
    assert!(blocks.contains("recoflow-RunnerFunction"));
    let notification = deps.jobs.record(&job_id).unwrap().notification.unwrap();
    assert_eq!(
        (notification.state, notification.attempts),
        (NotificationState::Delivered, 1)
    );
}

#[tokio::test]
async fn rate_limits_are_waited_out_and_the_message_arrives_once() {
    let deps = deps();
    deps.poster.then(FakePoster::reply(429, "", Some("1")));
    let job_id = failed_job(&deps, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(handle(&deps, failure(&job_id)).await.unwrap().state, "DELIVERED");
    assert_eq!(deps.poster.posted().len(), 2, "the 429 and the delivered post");
    assert_eq!(
        *deps.clock.slept.lock().unwrap(),
        Duration::from_secs(1),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_leaves_the_job_failed_and_undelivered() {
    let deps = deps();
    for _ in 0..200 {
        deps.poster.then(FakePoster::reply(500, "internal_error", None));
    }
    let job_id = failed_job(&deps, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&deps, failure(&job_id)).await.unwrap().state,
        "UNDELIVERED"
    );
    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let notification = record.notification.unwrap();
    assert_eq!(notification.state, NotificationState::Undelivered);
    assert!(notification.attempts > 3);
    assert!(
        notification.last_error.as_deref().unwrap().contains("HTTP 500"),
        "{notification:?}"
    );
    assert!(*deps.clock.slept.lock().unwrap() <= Duration::from_secs(180));
}

#[tokio::test]
async fn permanent_answers_are_not_retried() {
    let deps = deps();
    deps.poster.then(FakePoster::reply(400, "invalid_payload", None));
    let job_id = failed_job(&deps, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&deps, failure(&job_id)).await.unwrap().state,
        "UNDELIVERED"
    );
    assert_eq!(deps.poster.posted().len(), 1);
    let error = deps
        .jobs
        .record(&job_id)
        .unwrap()
        .notification
        .unwrap()
        .last_error
        .unwrap();
    assert!(error.contains("invalid_payload"), "{error}");
}

#[tokio::test]
async fn without_a_webhook_nothing_is_posted_and_the_record_says_why() {
    let mut deps = deps();
    deps.webhook = FakeSecret(None);
    let job_id = failed_job(&deps, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&deps, failure(&job_id)).await.unwrap().state,
        "UNDELIVERED"
    );
    assert!(deps.poster.posted().is_empty());
    let error = deps
        .jobs
        .record(&job_id)
        .unwrap()
        .notification
        .unwrap()
        .last_error
        .unwrap();
    assert!(error.contains("SlackWebhookParameter"), "{error}");
}

#[tokio::test]
async fn ten_failures_of_one_cause_make_a_few_messages_naming_all_ten() {
    let deps = deps();
    let mut ids = Vec::new();
    let mut folded = Vec::new();
    for i in 0..10 {
        let job_id = failed_job(
            &deps,
            &format!("job-{i}"),
            "DatasetMissing",
            &format!("dataset.interactions: s3://data/day-{i}.csv does not exist"),
        )
        .await;
        let outcome = handle(&deps, failure(&job_id)).await.unwrap();
        if outcome.state == "FOLDED" {
            assert!((1..=60).contains(&outcome.wait_seconds));
            folded.push(outcome.signature);
        }
        ids.push(job_id.to_string());
    }
    assert_eq!(deps.poster.posted().len(), 3, "three on their own");
    assert_eq!(folded.len(), 7);
    // Every folded execution asks for the summary after the window: one sends it.
    let mut states = Vec::new();
    for signature in &folded {
        let event = NotifyEvent::Task(NotifyTask::Summary {
            signature: signature.clone(),
        });
        states.push(handle(&deps, event).await.unwrap().state);
    }
    assert_eq!(states.iter().filter(|s| *s == "SUMMARY_DELIVERED").count(), 1);
    let posted = deps.poster.posted();
    assert_eq!(posted.len(), 4);
    let all_text: String = posted.iter().map(|m| m.to_string()).collect();
    for id in &ids {
        assert!(all_text.contains(id.as_str()), "{id} is named in some message");
    }
    for id in &ids[3..] {
        let notification = deps
            .jobs
            .record(&JobId::parse(id).unwrap())
            .unwrap()
            .notification
            .unwrap();
        assert_eq!(notification.state, NotificationState::Folded);
    }
}

#[tokio::test]
async fn a_success_is_told_only_when_the_form_asks() {
    let deps = deps();
    let mut form = test_form("container");
    let quiet = deps.jobs.insert_queued("quiet-1", form.clone());
    form.notify = Some(recoflow_core::form::NotifySettings {
        slack_channel: Some("#ml-alerts".into()),
        on_success: true,
    });
    let loud = deps.jobs.insert_queued("loud-1", form);
    let event = |id: &JobId| NotifyEvent::Task(NotifyTask::Success { job_id: id.clone() });
    assert_eq!(handle(&deps, event(&quiet)).await.unwrap().state, "NOT_ASKED");
    assert_eq!(handle(&deps, event(&loud)).await.unwrap().state, "DELIVERED");
    let posted = deps.poster.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["channel"], "#ml-alerts");
}

#[tokio::test]
async fn a_rejected_form_is_told_from_its_report() {
    let deps = deps();
    let job_id = JobId::parse("bad-1").unwrap();
    let record = recoflow_core::job::JobRecord::rejected(
        job_id.clone(),
        recoflow_core::job::JobSource::S3 {
            bucket: "forms".into(),
            key: "submissions/bad.json".into(),
            version: "v1".into(),
        },
        None,
        Vec::new(),
        &recoflow_core::job::now_rfc3339(),
    );
    deps.jobs.records.lock().unwrap().insert(job_id.clone(), record);
    let report = serde_json::json!({
        "job_id": "bad-1", "form": "s3://forms/submissions/bad.json", "rejected_at": "now",
        "problems": [{"path": "$.segment.age", "code": "age_range_inverted", "message": "min is over max"}]
    });
    deps.objects
        .insert("forms", "rejected/bad.json.errors.json", report.to_string());
    let event: NotifyEvent = serde_json::from_value(serde_json::json!({"Records": [{
        "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1", "eventTime": "2026-11-23T00:00:00.000Z",
        "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
        "responseElements": {}, "s3": {"s3SchemaVersion": "1.0", "configurationId": "rejections",
            "bucket": {"name": "forms", "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::forms"},
            "object": {"key": "rejected/bad.json.errors.json", "size": 10, "eTag": "e", "sequencer": "01"}}
    }]}))
    .unwrap();
    assert_eq!(handle(&deps, event).await.unwrap().state, "DELIVERED");
    let posted = deps.poster.posted();
    assert!(posted[0]["text"]
        .as_str()
        .unwrap()
        .contains("s3://forms/rejected/bad.json.errors.json"));
    assert!(posted[0]["blocks"].to_string().contains("min is over max"));
}
