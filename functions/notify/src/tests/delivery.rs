//! Delivery: rate limits waited out, outages bounded by the budget, permanent answers and a
//! missing webhook recorded on the job, never failing it.

use std::time::Duration;

use recoflow_core::fakes::{FakePoster, FakeSecret};
use recoflow_core::job::{JobStatus, NotificationState};
use recoflow_core::task::NotifyState;

use super::{failed_job, failure, last_error, ports};
use crate::handler::handle;

#[tokio::test]
async fn rate_limits_are_waited_out_and_the_message_arrives_once() {
    let ports = ports();
    ports.poster.then(FakePoster::reply(429, "", Some("1")));
    let job_id = failed_job(&ports, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&ports, failure(&job_id)).await.unwrap().state,
        NotifyState::Delivered
    );
    assert_eq!(ports.poster.posted().len(), 2, "the 429 and the delivered post");
    assert_eq!(
        *ports.clock.slept.lock().unwrap(),
        Duration::from_secs(1),
        "Retry-After honoured"
    );
}

#[tokio::test]
async fn an_outage_longer_than_the_budget_leaves_the_job_failed_and_undelivered() {
    let ports = ports();
    for _ in 0..200 {
        ports.poster.then(FakePoster::reply(500, "internal_error", None));
    }
    let job_id = failed_job(&ports, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&ports, failure(&job_id)).await.unwrap().state,
        NotifyState::Undelivered
    );
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Failed);
    let notification = record.notification.unwrap();
    assert_eq!(notification.state, NotificationState::Undelivered);
    assert!(notification.attempts > 3);
    assert!(
        notification.last_error.as_deref().unwrap().contains("HTTP 500"),
        "{notification:?}"
    );
    assert!(*ports.clock.slept.lock().unwrap() <= Duration::from_secs(180));
}

#[tokio::test]
async fn permanent_answers_are_not_retried() {
    let ports = ports();
    ports.poster.then(FakePoster::reply(400, "invalid_payload", None));
    let job_id = failed_job(&ports, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&ports, failure(&job_id)).await.unwrap().state,
        NotifyState::Undelivered
    );
    assert_eq!(ports.poster.posted().len(), 1);
    let error = last_error(&ports, &job_id);
    assert!(error.contains("invalid_payload"), "{error}");
}

#[tokio::test]
async fn without_a_webhook_nothing_is_posted_and_the_record_says_why() {
    let mut ports = ports();
    ports.webhook = FakeSecret(None);
    let job_id = failed_job(&ports, "weekly-1", "TrainingFailed", "x").await;
    assert_eq!(
        handle(&ports, failure(&job_id)).await.unwrap().state,
        NotifyState::Undelivered
    );
    assert!(ports.poster.posted().is_empty());
    let error = last_error(&ports, &job_id);
    assert!(error.contains("SlackWebhookParameter"), "{error}");
}
