//! The check with fakes: five weeks of a placement's aggregates (two A/B arms, weekend dips),
//! checked day by day as the schedule does.

use recoflow_core::events::aggregates::{day_text, AggregateKey, AggregateRow, Counts};
use recoflow_core::monitoring::Kpi;
use recoflow_core::placement::validation::validate_placement;
use recoflow_core::placement::PlacementRecord;
use recoflow_core::ports::{AggregateStore, PlacementStore};
use serde_json::Value;
use time::macros::date;
use time::{Date, Duration, Weekday};

use crate::event::MonitorEvent;
use crate::fake::FakeMonitorPorts;
use crate::handler::handle;

/// Day 0: a Monday; day 30 a Wednesday of the fifth week.
const START: Date = date!(2026 - 10 - 26);
const DROP_DAY: i64 = 30;

fn normal(rng: &mut fastrand::Rng) -> f64 {
    let (u, v) = (rng.f64().max(f64::MIN_POSITIVE), rng.f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

fn draws(rng: &mut fastrand::Rng, n: i64, p: f64) -> i64 {
    let mean = n as f64 * p;
    (mean + (mean * (1.0 - p)).sqrt() * normal(rng)).round().max(0.0) as i64
}

/// A day of one arm: weekdays 5,000 impressions at the arm's CTR, weekends 3,000 at three
/// quarters of it; `ctr_factor` scales the day's CTR.
fn arm_day(rng: &mut fastrand::Rng, arm: &str, day: Date, ctr: f64, ctr_factor: f64) -> AggregateRow {
    let weekend = matches!(day.weekday(), Weekday::Saturday | Weekday::Sunday);
    let (traffic, seasonal) = if weekend { (3_000.0, 0.75) } else { (5_000.0, 1.0) };
    let impressions = (traffic * (1.0 + 0.02 * normal(rng))).round() as i64;
    let purchases = draws(rng, impressions, 0.005 * seasonal);
    let revenue = purchases as f64 * 30.0;
    AggregateRow {
        key: AggregateKey {
            placement: "home-top".into(),
            day,
            arm: arm.into(),
            version: format!("v-{arm}"),
        },
        counts: Counts {
            impressions,
            clicks: draws(rng, impressions, ctr * seasonal * ctr_factor),
            add_to_cart: draws(rng, impressions, 0.012 * seasonal),
            purchases,
            revenue,
            revenue_sq: revenue * 30.0,
            wins: 0,
        },
    }
}

async fn seeded(seed: u64, drop: bool, ctrs: (f64, f64), summary: &str) -> FakeMonitorPorts {
    let ports = FakeMonitorPorts::default();
    let document = format!(
        r#"{{"schema_version": 1, "placement": "home-top",
            "experiment": {{"type": "ab", "salt": "s1", "arms": [
              {{"name": "a", "result_set": "rs-a"}}, {{"name": "b", "result_set": "rs-b"}}]}},
            "monitoring": {{"enabled": true, "sensitivity": "normal", "summary": "{summary}"}}}}"#
    );
    let placement = validate_placement(document.as_bytes()).unwrap();
    let record = PlacementRecord {
        placement: "home-top".into(),
        revision: 1,
        document: Some(placement),
        updated_by: "test".into(),
        updated_at: "2026-10-01T00:00:00Z".into(),
    };
    assert!(ports.placements.write(&record).await.unwrap());
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut rows = Vec::new();
    for i in 0..35 {
        let day = START + Duration::days(i);
        let factor = if drop && i == DROP_DAY { 0.55 } else { 1.0 };
        rows.push(arm_day(&mut rng, "a", day, ctrs.0, factor));
        rows.push(arm_day(&mut rng, "b", day, ctrs.1, factor));
    }
    ports.aggregates.add(&rows).await.unwrap();
    ports
}

/// The daily check of each day of the fifth week, as the schedule runs it.
async fn check_fifth_week(ports: &FakeMonitorPorts) -> u32 {
    let mut alerts = 0;
    for i in 28..35 {
        let event = MonitorEvent {
            day: Some(day_text(START + Duration::days(i))),
            placement: None,
        };
        alerts += handle(ports, event).await.unwrap().alerts;
    }
    alerts
}

fn alerts_posted(ports: &FakeMonitorPorts) -> Vec<Value> {
    ports
        .poster
        .posted()
        .into_iter()
        .filter(|m| m["text"].as_str().unwrap_or("").contains("its expected"))
        .collect()
}

#[tokio::test]
async fn a_weekday_drop_sends_one_alert_with_its_chart_and_weekend_dips_none() {
    let steady = seeded(2, false, (0.04, 0.04), "none").await;
    assert_eq!(check_fifth_week(&steady).await, 0);
    assert!(
        steady.poster.posted().is_empty(),
        "weekend dips alone: no message"
    );

    let ports = seeded(2, true, (0.04, 0.04), "none").await;
    assert_eq!(check_fifth_week(&ports).await, 1);
    let alerts = alerts_posted(&ports);
    assert_eq!(alerts.len(), 1, "{alerts:#?}");
    let text = alerts[0]["text"].as_str().unwrap();
    assert!(
        text.starts_with("recoflow: CTR of placement home-top on 2026-11-25 was"),
        "{text}"
    );
    assert!(text.contains("below its expected"), "{text}");
    assert!(text.contains("Triage: unclear"), "{text}");
    let blocks = alerts[0]["blocks"].as_array().unwrap();
    let image = blocks.iter().find(|b| b["type"] == "image").unwrap();
    let key = "charts/placements/home-top/2026-11-25/ctr.png";
    assert!(image["image_url"].as_str().unwrap().contains(key), "{image}");
    let png = ports.objects.get("results", key).expect("the chart is stored");
    assert_eq!(&png[1..4], b"PNG");
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    assert_eq!(
        actions["elements"][0]["url"],
        "https://api.test/prod/ui/placements?placement=home-top"
    );
    assert_eq!(
        ports.log.closed().len(),
        1,
        "back in its band the day after: closed"
    );

    // The drop day checked twice (a retried invocation): the open alert is not sent again;
    // the next day, back in its band, closes it.
    let ports = seeded(2, true, (0.04, 0.04), "none").await;
    let check = |i: i64| MonitorEvent {
        day: Some(day_text(START + Duration::days(i))),
        placement: Some("home-top".into()),
    };
    assert_eq!(handle(&ports, check(DROP_DAY)).await.unwrap().alerts, 1);
    let again = handle(&ports, check(DROP_DAY)).await.unwrap();
    assert_eq!((again.checked, again.alerts), (1, 0));
    assert_eq!(alerts_posted(&ports).len(), 1);
    assert_eq!(handle(&ports, check(DROP_DAY + 1)).await.unwrap().closed, 1);
    let closed = ports.log.closed();
    assert_eq!(
        (closed[0].kpi, closed[0].closed_on.as_deref()),
        (Kpi::Ctr, Some("2026-11-26"))
    );
}

#[tokio::test]
async fn a_daily_summary_goes_out_once_a_day_and_a_significant_test_once() {
    // B's CTR 6 % against A's 4 %: significant within days.
    let ports = seeded(5, false, (0.04, 0.06), "daily").await;
    let day = |i: i64| MonitorEvent {
        day: Some(day_text(START + Duration::days(i))),
        placement: None,
    };
    let first = handle(&ports, day(34)).await.unwrap();
    assert_eq!((first.summaries, first.alerts), (1, 0));
    assert!(first.significant >= 1, "{first:?}");
    let posted = ports.poster.posted();
    let significance: Vec<&Value> = posted
        .iter()
        .filter(|m| m["text"].as_str().unwrap().contains("reached significance"))
        .collect();
    let ctr = significance
        .iter()
        .find(|m| m["text"].as_str().unwrap().contains("`ctr`"))
        .expect("the CTR difference is announced");
    assert!(
        ctr["text"].as_str().unwrap().contains("Arm *b* differs from *a*"),
        "{ctr}"
    );
    let summary = posted
        .iter()
        .find(|m| {
            m["text"]
                .as_str()
                .unwrap()
                .starts_with("recoflow: placement home-top on 2026-11-29")
        })
        .expect("the day's summary");
    assert!(summary["text"].as_str().unwrap().contains("CTR"), "{summary}");

    let again = handle(&ports, day(34)).await.unwrap();
    assert_eq!((again.summaries, again.significant), (0, 0), "each once");
    let next = handle(&ports, day(33)).await.unwrap();
    assert_eq!(
        (next.summaries, next.significant),
        (1, 0),
        "another day's summary; the test told once"
    );
}

#[tokio::test]
async fn a_placement_without_monitoring_is_left_alone_and_a_bad_day_is_refused() {
    let ports = FakeMonitorPorts::default();
    let placement =
        validate_placement(br#"{"schema_version": 1, "placement": "quiet", "result_set": "rs-quiet"}"#)
            .unwrap();
    let record = PlacementRecord {
        placement: "quiet".into(),
        revision: 1,
        document: Some(placement),
        updated_by: "test".into(),
        updated_at: "2026-10-01T00:00:00Z".into(),
    };
    ports.placements.write(&record).await.unwrap();
    let outcome = handle(&ports, MonitorEvent::default()).await.unwrap();
    assert_eq!(outcome.checked, 0);
    assert!(ports.poster.posted().is_empty());
    let err = handle(
        &ports,
        MonitorEvent {
            day: Some("yesterday".into()),
            placement: None,
        },
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "day: \"yesterday\" is not a date like 2026-12-01"
    );
}
