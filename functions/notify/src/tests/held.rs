//! A held version's message: once per job, each failed rule with its value, bound and the value
//! before, a chart per failed metric stored in the results bucket and linked by presigned URL,
//! and buttons to the result set's page and to promote.

use recoflow_core::delivery::Delivery;
use recoflow_core::fakes::test_form;
use recoflow_core::job::JobId;
use recoflow_core::ports::{JobPatch, JobStore, VersionStore};
use recoflow_core::quality::{GateFailure, GateOutcome, Metric, VersionMetrics};
use recoflow_core::task::{NotifyState, NotifyTask};
use recoflow_core::versions::{keys, VersionRecord};
use serde_json::Value;

use super::{ports, FakeNotifyPorts};
use crate::handler::{handle, NotifyEvent};
use crate::held_charts::chart_key;

fn version(result_set: &str, day: u32, users: u64, held: Option<GateOutcome>) -> VersionRecord {
    let version = format!("202612{day:02}T030000Z-0a1b2c3d");
    let created_at = format!("2026-12-{day:02}T03:00:00.000Z");
    VersionRecord {
        pk: keys::version(result_set, &version),
        version_of: result_set.into(),
        version,
        job_id: JobId::parse(&format!("job-{day}")).unwrap(),
        published_at: held.is_none().then(|| created_at.clone()),
        created_at,
        written_at: None,
        held: held.is_some(),
        metrics: Some(VersionMetrics {
            users_personalized: users,
            catalog_coverage: Some(0.3),
            ..VersionMetrics::default()
        }),
        gate: held,
        promoted: None,
        discarded: None,
        version_expires_at: i64::MAX / 2,
        excluded_items: Vec::new(),
        expires_at: i64::MAX / 2,
    }
}

fn users_dropped() -> GateOutcome {
    GateOutcome {
        passed: false,
        failures: vec![GateFailure {
            rule: "max_change".into(),
            metric: Metric::UsersPersonalized,
            value: 100.0,
            bound: 0.2,
            previous: Some(1000.0),
        }],
        rules: "form".into(),
        ..GateOutcome::default()
    }
}

/// Seven published versions of 1000 users, then job `held-1` whose version (10 % of the users)
/// the gate held with `outcome`.
async fn held_job(ports: &FakeNotifyPorts, outcome: GateOutcome) -> (JobId, VersionRecord) {
    let job_id = ports.jobs.insert_queued("held-1", test_form("container"));
    let result_set = ports.jobs.record(&job_id).unwrap().form.unwrap().result_set;
    let store = &ports.recommendations;
    for day in 1..=7 {
        store
            .put_version(&version(&result_set, day, 1000, None))
            .await
            .unwrap();
    }
    let held = version(&result_set, 8, 100, Some(outcome));
    store.put_version(&held).await.unwrap();
    let delivery = Delivery {
        version: held.version.clone(),
        ..Delivery::default()
    };
    ports
        .jobs
        .patch(&job_id, JobPatch::Delivery(delivery), None)
        .await
        .unwrap();
    (job_id, held)
}

fn held_event(job_id: &JobId) -> NotifyEvent {
    NotifyEvent::Task(NotifyTask::Held {
        job_id: job_id.clone(),
    })
}

fn blocks_of(message: &Value, kind: &str) -> Vec<Value> {
    message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == kind)
        .cloned()
        .collect()
}

#[tokio::test]
async fn a_held_job_gets_one_message_with_the_rule_its_chart_and_the_buttons() {
    let ports = ports();
    let (job_id, held) = held_job(&ports, users_dropped()).await;
    assert_eq!(
        handle(&ports, held_event(&job_id)).await.unwrap().state,
        NotifyState::Delivered
    );
    assert_eq!(
        handle(&ports, held_event(&job_id)).await.unwrap().state,
        NotifyState::AlreadyNotified,
        "a retried step sends nothing more"
    );
    let posted = ports.poster.posted();
    assert_eq!(posted.len(), 1);
    let text = posted[0]["text"].as_str().unwrap();
    assert!(
        text.contains("users_personalized 100 failed max_change (bound 0.2)"),
        "{text}"
    );
    // The chart: a PNG in the results bucket, shown by its presigned URL.
    let key = chart_key(&held.version_of, &held.version, Metric::UsersPersonalized);
    let png = ports.objects.get("results", &key).expect("the chart is stored");
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    let images = blocks_of(&posted[0], "image");
    assert_eq!(images.len(), 1);
    assert_eq!(
        images[0]["image_url"],
        format!("https://results.s3.fake/{key}?X-Amz-Expires=604800")
    );
    let actions = &blocks_of(&posted[0], "actions")[0];
    let page = format!(
        "https://api.test/Prod/ui/result-sets?result_set={}",
        held.version_of
    );
    assert_eq!(actions["elements"][0]["url"], page);
    assert_eq!(
        actions["elements"][1]["url"],
        format!("{page}&promote={}", held.version)
    );
    let notification = ports.jobs.record(&job_id).unwrap().notification.unwrap();
    assert_eq!(notification.kind, "held");
}

#[tokio::test]
async fn a_version_not_held_or_no_longer_held_sends_nothing() {
    let ports = ports();
    let (job_id, mut held) = held_job(&ports, users_dropped()).await;
    // Promoted before the message went out.
    held.published_at = Some("2026-12-09T00:00:00.000Z".into());
    ports.recommendations.put_version(&held).await.unwrap();
    assert_eq!(
        handle(&ports, held_event(&job_id)).await.unwrap().state,
        NotifyState::NotHeld
    );
    // A job with no delivery at all.
    let other = ports
        .jobs
        .insert_queued("never-delivered", test_form("container"));
    assert_eq!(
        handle(&ports, held_event(&other)).await.unwrap().state,
        NotifyState::NotHeld
    );
    assert!(ports.poster.posted().is_empty());
}

#[tokio::test]
async fn a_metric_that_cannot_be_charted_leaves_the_chart_out_not_the_message() {
    let ports = ports();
    // overlap_at_k: the held version has none to draw (a failure recorded without its value).
    let mut outcome = users_dropped();
    outcome.failures.push(GateFailure {
        rule: "min".into(),
        metric: Metric::OverlapAtK,
        value: 0.0,
        bound: 0.5,
        previous: None,
    });
    let (job_id, _) = held_job(&ports, outcome).await;
    assert_eq!(
        handle(&ports, held_event(&job_id)).await.unwrap().state,
        NotifyState::Delivered
    );
    let posted = ports.poster.posted();
    let sections: String = blocks_of(&posted[0], "section")
        .iter()
        .map(Value::to_string)
        .collect();
    assert!(
        sections.contains("*overlap_at_k* is 0, below the minimum 0.5"),
        "{sections}"
    );
    assert_eq!(
        blocks_of(&posted[0], "image").len(),
        1,
        "only users_personalized has a chart"
    );
}
