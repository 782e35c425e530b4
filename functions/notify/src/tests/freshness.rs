//! Freshness: a result set whose current version outgrew its form's `expect_refresh_hours` gets
//! one alert, not repeated until a newer version is published and grows stale in turn.

use std::time::Duration;

use recoflow_core::delivery::{keys as list_keys, Pointer};
use recoflow_core::fakes::FakePoster;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{Clock, VersionStore};
use recoflow_core::task::{NotifyState, NotifyTask};
use recoflow_core::versions::{keys, LastJob, ResultSetEntry, RESULT_SET_LISTING};

use super::{ports, FakeNotifyPorts};
use crate::handler::{handle, NotifyEvent};

const HOUR: Duration = Duration::from_secs(3600);

async fn entry(ports: &FakeNotifyPorts, result_set: &str, expect_refresh_hours: Option<f64>) {
    let entry = ResultSetEntry {
        pk: keys::result_set_entry(result_set),
        listing: RESULT_SET_LISTING.into(),
        result_set: result_set.into(),
        last_job: LastJob {
            job_id: JobId::parse("weekly-7").unwrap(),
            status: JobStatus::Succeeded,
        },
        expect_refresh_hours,
        stale_alert_for: None,
    };
    ports.recommendations.put_entry(&entry).await.unwrap();
}

/// `version` becomes current now.
fn publish(ports: &FakeNotifyPorts, result_set: &str, version: &str) {
    let pointer = Pointer {
        pk: list_keys::pointer(result_set),
        result_set: result_set.into(),
        version: version.into(),
        job_id: JobId::parse("weekly-7").unwrap(),
        published_at: ports.clock.rfc3339_now(),
        num_results: 10,
        excluded_items: Vec::new(),
        users: 5,
        segments: 1,
        expires_at: i64::MAX / 2,
        previous_version: None,
        segment_dimensions: Default::default(),
        output: Default::default(),
    };
    ports
        .recommendations
        .pointers
        .lock()
        .unwrap()
        .insert(result_set.into(), pointer);
}

async fn check(ports: &FakeNotifyPorts) -> usize {
    let before = ports.poster.posted().len();
    let outcome = handle(ports, NotifyEvent::Task(NotifyTask::Freshness))
        .await
        .unwrap();
    assert_eq!(outcome.state, NotifyState::FreshnessChecked);
    ports.poster.posted().len() - before
}

#[tokio::test]
async fn a_stale_result_set_is_alerted_once_until_a_newer_version_goes_stale() {
    let ports = ports();
    entry(&ports, "spring", Some(24.0)).await;
    publish(&ports, "spring", "v1");
    ports.clock.advance(23 * HOUR);
    assert_eq!(check(&ports).await, 0, "within its expected refresh");
    ports.clock.advance(2 * HOUR);
    assert_eq!(check(&ports).await, 1, "past due");
    let alert = ports.poster.posted()[0].clone();
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.contains("spring is stale")
            && text.contains("v1 is 25 h 0 min old")
            && text.contains("every 24 h 0 min")
            && text.contains("`weekly-7` SUCCEEDED"),
        "{text}"
    );
    assert_eq!(
        alert["blocks"][3]["elements"][0]["url"],
        "https://api.test/Prod/ui/result-sets?result_set=spring"
    );
    for _ in 0..3 {
        ports.clock.advance(HOUR);
        assert_eq!(check(&ports).await, 0, "not repeated");
    }
    // Refreshed: quiet again until the new version is past due.
    publish(&ports, "spring", "v2");
    ports.clock.advance(HOUR);
    assert_eq!(check(&ports).await, 0);
    ports.clock.advance(24 * HOUR);
    assert_eq!(check(&ports).await, 1, "the new version went stale in turn");
}

#[tokio::test]
async fn only_result_sets_that_expect_a_refresh_and_have_a_version_are_checked() {
    let ports = ports();
    entry(&ports, "no-expectation", None).await;
    publish(&ports, "no-expectation", "v1");
    entry(&ports, "never-published", Some(1.0)).await;
    entry(&ports, "hourly", Some(0.5)).await;
    publish(&ports, "hourly", "v1");
    ports.clock.advance(10 * HOUR);
    assert_eq!(check(&ports).await, 1);
    assert!(ports.poster.posted()[0]["text"]
        .as_str()
        .unwrap()
        .contains("hourly is stale"));
}

#[tokio::test]
async fn an_alert_slack_refused_is_not_sent_again() {
    let ports = ports();
    ports.poster.then(FakePoster::reply(404, "no_service", None));
    entry(&ports, "spring", Some(1.0)).await;
    publish(&ports, "spring", "v1");
    ports.clock.advance(2 * HOUR);
    assert_eq!(check(&ports).await, 1, "tried once");
    assert_eq!(check(&ports).await, 0, "noted before it was sent: never twice");
    let entry = ports.recommendations.entry("spring").await.unwrap().unwrap();
    assert_eq!(entry.stale_alert_for.as_deref(), Some("v1"));
}
