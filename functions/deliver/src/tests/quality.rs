//! The quality gate on fakes: what a delivery measures (against a hand computation, whole or
//! resumed), and what becomes of a version that fails the gate (held, failed) or passes it.

use std::collections::HashMap;

use recoflow_core::delivery::keys;
use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::quality::{Metric, OnFail, VersionMetrics};
use recoflow_core::versions::{self, VersionRecord, RECORD_OUTLIVES_LISTS_SECONDS};

use super::{line, pointer, ports_with_scores, scored_job, set_created_at, FakePorts};
use crate::handler::DeliveryProgress;
use crate::sequence::deliver_round;

fn edit_form(ports: &FakePorts, job_id: &JobId, edit: impl FnOnce(&mut JobForm)) {
    let mut records = ports.jobs.records.lock().unwrap();
    edit(records.get_mut(job_id).unwrap().form.as_mut().unwrap());
}

fn gate(ports: &FakePorts, job_id: &JobId, gate: serde_json::Value) {
    edit_form(ports, job_id, |form| {
        form.quality_gate = Some(serde_json::from_value(gate).unwrap())
    });
}

async fn deliver_to_the_end(ports: &FakePorts, job_id: &JobId) -> DeliveryProgress {
    for _ in 0..50 {
        if let Some(progress) = deliver_round(ports, job_id).await.unwrap() {
            return progress;
        }
    }
    panic!("the delivery never ended");
}

fn record(ports: &FakePorts, job_id: &JobId) -> JobRecord {
    ports.jobs.record(job_id).unwrap()
}

fn version_of(ports: &FakePorts, job_id: &JobId) -> VersionRecord {
    let version = record(ports, job_id).delivery.unwrap().version;
    ports.table().versions.lock().unwrap()[&("spring".to_owned(), version)].clone()
}

fn users(count: usize, items: &[&str]) -> String {
    let lines: Vec<String> = (0..count).map(|i| line(&format!("user-{i}"), items)).collect();
    lines.join("\n") + "\n"
}

/// Two result-set versions: a first job with `first` as its scores, published, then a second
/// job (submitted an hour later) with `second`, scored and ready to deliver.
async fn after_a_first_version(first: &str, second: &str) -> (FakePorts, JobId, JobId) {
    let (ports, first_job) = ports_with_scores(first, 60);
    set_created_at(&ports, &first_job, "2026-11-23T08:00:00.000Z");
    assert!(!deliver_to_the_end(&ports, &first_job).await.held);
    let second_job = scored_job(&ports, "spring-2", second);
    set_created_at(&ports, &second_job, "2026-11-23T09:00:00.000Z");
    (ports, first_job, second_job)
}

/// Worked by hand. The catalogue is the items file's 200 items; num_results 3; `hat` banned.
/// The first version lists u1: bag dress sock, u2: bag dress. The second version's lines:
///   u1: bag dress tent (0.9 0.8 0.7)   before: bag dress sock → Jaccard 2/4 = 0.5
///   u2: bag dress      (0.6 0.5)       before: bag dress      → 1.0
///   u3: bag            (0.4)           not in the first version
///   u4: hat bag dress  (0.95 0.3 0.2)  hat removed: bag dress (0.3 0.2), not in the first
/// users 4; slots 3+2+1+2 = 8, mean length 2; short (under 3): u2 u3 u4, 3/4; distinct items
/// bag dress tent: coverage 3/200; the top 1 % of 200 items is 2 (bag 4, dress 3): 7 of 8
/// slots; overlap (0.5 + 1.0) / 2; scores 0.2 … 0.9 (8): p50 rank ⌊0.5·7⌋ = 3 (0.5), p99 rank
/// ⌊0.99·7⌋ = 6 (0.8), within the sketch's 1 %.
#[tokio::test]
async fn a_delivery_measures_what_a_hand_computation_of_its_score_lines_gives() {
    let first = [
        line("u1", &["bag", "dress", "sock"]),
        line("u2", &["bag", "dress"]),
    ]
    .join("\n");
    let scored = |user: &str, items: &[&str], scores: &[f64]| {
        serde_json::json!({"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}})
            .to_string()
    };
    let second = [
        scored("u1", &["bag", "dress", "tent"], &[0.9, 0.8, 0.7]),
        scored("u2", &["bag", "dress"], &[0.6, 0.5]),
        scored("u3", &["bag"], &[0.4]),
        scored("u4", &["hat", "bag", "dress"], &[0.95, 0.3, 0.2]),
    ]
    .join("\n");
    let (ports, first_job, second_job) = after_a_first_version(&first, &second).await;
    let mut catalogue = String::from("ITEM_ID,CATEGORY\nbag,a\ndress,a\ntent,b\nhat,c\n");
    for i in 0..196 {
        catalogue.push_str(&format!("item-{i},d\n"));
    }
    ports.objects.insert("data", "items.csv", catalogue);
    ports.objects.insert("data", "ng.csv", "hat\n");
    edit_form(&ports, &second_job, |form| {
        form.num_results = 3;
        form.dataset.items = Some("s3://data/items.csv".into());
        form.exclude_items = Some("s3://data/ng.csv".into());
    });

    assert!(!deliver_to_the_end(&ports, &second_job).await.held);
    let delivery = record(&ports, &second_job).delivery.unwrap();
    assert_eq!(
        delivery.previous_version,
        Some(version_of(&ports, &first_job).version)
    );
    let metrics = version_of(&ports, &second_job).metrics.unwrap();
    let exact = VersionMetrics {
        users_personalized: 4,
        catalog_coverage: Some(3.0 / 200.0),
        top1pct_share: Some(7.0 / 8.0),
        mean_list_length: 2.0,
        short_lists_share: 0.75,
        segments_published: delivery.segments,
        overlap_at_k: Some(0.75),
        banned_served: 0,
        score_p50: metrics.score_p50,
        score_p99: metrics.score_p99,
    };
    assert_eq!(metrics, exact);
    assert!(delivery.segments >= 1, "the women of Tokyo are a segment");
    for (quantile, expected) in [(metrics.score_p50, 0.5), (metrics.score_p99, 0.8)] {
        let quantile = quantile.unwrap();
        assert!(
            (quantile - expected).abs() <= expected * 0.01,
            "{quantile} for {expected}"
        );
    }
    // The first version had none to compare with; its catalogue is the interactions' 3 items.
    let first_metrics = version_of(&ports, &first_job).metrics.unwrap();
    assert_eq!(first_metrics.overlap_at_k, None);
    assert_eq!(
        first_metrics.catalog_coverage,
        Some(1.0),
        "bag dress sock of 3 seen: capped at 1"
    );
    // The metrics of its one score file, kept with the file's progress.
    let progress = super::file_progress(&ports, &second_job, "users.jsonl.out");
    assert_eq!(progress.metrics.expect("the file is whole").lists, 4);
}

/// Two deliveries of the same scores (two files, 450 users, against a first version of the same
/// users): one uninterrupted, one stopped after every stretch, resuming in the middle of a file.
#[tokio::test]
async fn a_resumed_delivery_measures_what_an_uninterrupted_one_does() {
    let mut measured = Vec::new();
    for budget in [60, 0] {
        let (mut ports, _, second_job) = after_a_first_version(
            &users(450, &["dress", "bag"]),
            &users(300, &["bag", "tent", "dress"]),
        )
        .await;
        ports.objects.insert(
            "results",
            "jobs/spring-2/scores/users.jsonl.out.2.out",
            (300..450)
                .map(|i| line(&format!("user-{i}"), &["hat"]))
                .collect::<Vec<_>>()
                .join("\n"),
        );
        ports.settings.budget = std::time::Duration::from_secs(budget);
        // Invocations that stopped in the middle of a file.
        let mut stopped_mid_file = 0;
        while deliver_round(&ports, &second_job).await.unwrap().is_none() {
            let progress = super::file_progress(&ports, &second_job, "users.jsonl.out");
            if !progress.done() && progress.offset > 0 {
                stopped_mid_file += 1;
            }
        }
        measured.push((stopped_mid_file, version_of(&ports, &second_job).metrics.unwrap()));
    }
    let (uninterrupted, resumed) = (&measured[0], &measured[1]);
    assert_eq!(uninterrupted.0, 0);
    assert_eq!(resumed.0, 1, "stopped after 200 of the first file's 300 lines");
    assert_eq!(resumed.1, uninterrupted.1);
    assert_eq!(resumed.1.users_personalized, 450);
    // 300 users kept 2 of 3 items (dress, bag), 150 none of their one (hat).
    let overlap = (300.0 * (2.0 / 3.0)) / 450.0;
    assert!(
        (resumed.1.overlap_at_k.unwrap() - overlap).abs() < 1e-12,
        "{:?}",
        resumed.1
    );
}

/// The case: a second job on a users file with 10 % of the first one's users.
#[tokio::test]
async fn a_version_that_fails_the_gate_is_held_and_the_current_one_keeps_serving() {
    let (ports, first_job, second_job) =
        after_a_first_version(&users(20, &["dress"]), &users(2, &["bag"])).await;
    gate(
        &ports,
        &second_job,
        serde_json::json!({"max_change": {"users_personalized": 0.2}}),
    );
    let serving = pointer(&ports);

    let progress = deliver_to_the_end(&ports, &second_job).await;
    assert!(progress.done && progress.held, "{progress:?}");
    let job = record(&ports, &second_job);
    assert_eq!(job.status, JobStatus::Held);
    let gate = job.gate.clone().unwrap();
    assert!(!gate.passed);
    assert_eq!(gate.failures.len(), 1, "{gate:?}");
    let failure = &gate.failures[0];
    assert_eq!(
        (
            failure.rule.as_str(),
            failure.metric,
            failure.value,
            failure.bound,
            failure.previous
        ),
        ("max_change", Metric::UsersPersonalized, 2.0, 0.2, Some(20.0))
    );
    let detail = &job.history.last().unwrap().detail;
    assert!(
        detail.contains("max_change users_personalized: 2 (bound 0.2, previous 20)")
            && detail.contains(&serving.version),
        "{detail}"
    );
    assert_eq!(pointer(&ports), serving, "the first version still serves");
    assert_eq!(serving.job_id, first_job);

    let held = version_of(&ports, &second_job);
    assert!(held.held && held.published_at.is_none() && held.written_at.is_some());
    assert_eq!(held.metrics.as_ref().unwrap().users_personalized, 2);
    assert_eq!(held.gate, Some(gate));
    assert_eq!(
        held.state(Some(&serving.version), 0),
        versions::VersionState::Held
    );
    let entry = ports.table().entries.lock().unwrap()["spring"].clone();
    assert_eq!(
        (entry.last_job.job_id, entry.last_job.status),
        (second_job.clone(), JobStatus::Held)
    );

    // A retry after the answer was lost says the same and changes nothing.
    let again = deliver_round(&ports, &second_job).await.unwrap().unwrap();
    assert!(again.done && again.held);
    assert_eq!(record(&ports, &second_job).history, job.history);
}

#[tokio::test]
async fn on_fail_fail_fails_the_job_naming_each_failed_rule() {
    let (ports, _, second_job) = after_a_first_version(&users(20, &["dress"]), &users(2, &["bag"])).await;
    gate(
        &ports,
        &second_job,
        serde_json::json!({"min": {"users_personalized": 5}, "max_change": {"users_personalized": 0.2}, "on_fail": "fail"}),
    );
    let serving = pointer(&ports);

    let err = deliver_round(&ports, &second_job).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::QualityGateFailed);
    let cause = err.to_string();
    for rule in [
        "min users_personalized: 2 (bound 5)",
        "max_change users_personalized: 2 (bound 0.2, previous 20)",
    ] {
        assert!(cause.contains(rule), "{cause}");
    }
    assert_eq!(pointer(&ports), serving);
    let version = version_of(&ports, &second_job);
    assert!(!version.held && version.published_at.is_none());
    assert_eq!(version.gate.as_ref().unwrap().on_fail, OnFail::Fail);
    assert_eq!(version.metrics.unwrap().users_personalized, 2);
    let job = record(&ports, &second_job);
    assert_eq!(job.gate, version.gate, "GET /jobs/{{id}} shows why");
    assert_eq!(
        job.status,
        JobStatus::Delivering,
        "the failure path makes it FAILED"
    );
    let entry = ports.table().entries.lock().unwrap()["spring"].clone();
    assert_eq!(entry.last_job.status, JobStatus::Failed);
}

#[tokio::test]
async fn without_a_gate_the_default_one_publishes_a_version_and_holds_one_halved() {
    let (ports, first_job, second_job) =
        after_a_first_version(&users(10, &["dress"]), &users(4, &["bag"])).await;
    let first = record(&ports, &first_job);
    let outcome = first.gate.unwrap();
    assert!(outcome.passed && outcome.rules == "default", "{outcome:?}");
    assert_eq!(first.status, JobStatus::Succeeded);
    let published = version_of(&ports, &first_job);
    assert_eq!(
        published.published_at.as_deref(),
        Some(pointer(&ports).published_at.as_str())
    );
    assert_eq!(published.gate, Some(outcome));
    assert_eq!(
        published.expires_at,
        published.version_expires_at + RECORD_OUTLIVES_LISTS_SECONDS
    );
    assert_eq!(
        published.created_at, "2026-11-23T08:00:00.000Z",
        "the job's submission"
    );

    // The entry keeps the form's freshness and an alert already sent for the current version.
    ports
        .table()
        .entries
        .lock()
        .unwrap()
        .get_mut("spring")
        .unwrap()
        .stale_alert_for = Some("v-old".into());
    edit_form(&ports, &second_job, |form| form.expect_refresh_hours = Some(6.0));
    assert!(deliver_to_the_end(&ports, &second_job).await.held);
    let failure = record(&ports, &second_job).gate.unwrap().failures[0].clone();
    assert_eq!(
        (failure.rule.as_str(), failure.value, failure.bound),
        ("max_drop", 4.0, 0.5)
    );
    let entry = ports.table().entries.lock().unwrap()["spring"].clone();
    assert_eq!(entry.expect_refresh_hours, Some(6.0));
    assert_eq!(entry.stale_alert_for.as_deref(), Some("v-old"));
    assert_eq!(pointer(&ports).job_id, first_job);
}

/// Published versions' records as earlier deliveries left them, coverage as given.
fn seed_published_versions(ports: &FakePorts, coverages: &[f64]) {
    let mut records = ports.table().versions.lock().unwrap();
    for (i, coverage) in coverages.iter().enumerate() {
        let version = format!("20261101T0{i}0000Z-seed000{i}");
        let record = VersionRecord {
            pk: versions::keys::version("spring", &version),
            version_of: "spring".into(),
            version: version.clone(),
            job_id: JobId::parse(&format!("seed-{i}")).unwrap(),
            created_at: format!("2026-11-01T0{i}:00:00.000Z"),
            written_at: Some(format!("2026-11-01T0{i}:10:00.000Z")),
            published_at: Some(format!("2026-11-01T0{i}:10:00.000Z")),
            held: false,
            metrics: Some(VersionMetrics {
                users_personalized: 10,
                catalog_coverage: Some(*coverage),
                mean_list_length: 3.0,
                ..VersionMetrics::default()
            }),
            gate: None,
            promoted: None,
            discarded: None,
            version_expires_at: i64::MAX / 2,
            excluded_items: Vec::new(),
            expires_at: i64::MAX / 2,
        };
        records.insert(("spring".into(), version), record);
    }
}

/// A job whose lists hold `distinct` of the items file's 30 items.
fn job_covering(ports: &FakePorts, id: &str, hour: u32, distinct: usize) -> JobId {
    let items: Vec<String> = (0..distinct).map(|i| format!("item-{i}")).collect();
    let items: Vec<&str> = items.iter().map(String::as_str).collect();
    let job_id = scored_job(ports, id, &users(10, &items));
    set_created_at(ports, &job_id, &format!("2026-11-23T{hour:02}:00:00.000Z"));
    edit_form(ports, &job_id, |form| {
        form.dataset.items = Some("s3://data/items.csv".into());
        form.num_results = 30;
        form.quality_gate = Some(
            serde_json::from_value(
                serde_json::json!({"anomaly": {"metrics": ["catalog_coverage"], "history": 8}}),
            )
            .unwrap(),
        );
    });
    job_id
}

/// The case: seven versions with stable coverage, then one at a third of it.
#[tokio::test]
async fn a_version_outside_the_band_of_the_last_published_ones_is_held_by_the_anomaly_rule_alone() {
    let (ports, _) = ports_with_scores(&line("u1", &["dress"]), 60);
    let catalogue: String = (0..30).map(|i| format!("item-{i}\n")).collect();
    ports
        .objects
        .insert("data", "items.csv", format!("ITEM_ID\n{catalogue}"));
    seed_published_versions(&ports, &[0.30, 0.31, 0.29, 0.30, 0.32, 0.30, 0.31]);

    let dropped = job_covering(&ports, "spring-3", 9, 3);
    assert!(deliver_to_the_end(&ports, &dropped).await.held);
    let outcome = record(&ports, &dropped).gate.unwrap();
    let rules: Vec<(&str, Metric)> = outcome
        .failures
        .iter()
        .map(|f| (f.rule.as_str(), f.metric))
        .collect();
    assert_eq!(rules, [("anomaly", Metric::CatalogCoverage)], "{outcome:?}");
    assert!((outcome.failures[0].value - 0.1).abs() < 1e-12);
    assert!(
        ports.table().pointers.lock().unwrap().is_empty(),
        "nothing was current, nothing is"
    );

    let usual = job_covering(&ports, "spring-4", 10, 9);
    let progress = deliver_to_the_end(&ports, &usual).await;
    assert!(!progress.held);
    assert_eq!(record(&ports, &usual).status, JobStatus::Succeeded);
    assert_eq!(pointer(&ports).job_id, usual);
}

/// Banned items are removed before the lists are written, so a version measured serving one
/// means removal broke: here its first file's metrics say so, as a broken removal would have
/// written them. No gate lets it publish.
#[tokio::test]
async fn a_version_measured_serving_a_banned_item_never_publishes() {
    for on_fail in ["hold", "fail"] {
        let (mut ports, first_job, second_job) =
            after_a_first_version(&users(10, &["dress"]), &users(450, &["bag"])).await;
        gate(
            &ports,
            &second_job,
            serde_json::json!({"min": {"users_personalized": 0}, "on_fail": on_fail}),
        );
        ports.objects.insert(
            "results",
            "jobs/spring-2/scores/zz.out",
            line("late-user", &["bag"]),
        );
        // With no time budget, one round writes zz.out whole (its metrics kept) and stops the
        // other file after a stretch; zz.out's metrics are then made to show a banned item.
        ports.settings.budget = std::time::Duration::ZERO;
        assert!(deliver_round(&ports, &second_job).await.unwrap().is_none());
        let key = "jobs/spring-2/delivery/zz.out.json";
        let mut progress: crate::file_progress::FileProgress =
            serde_json::from_slice(&ports.objects.get("results", key).unwrap()).unwrap();
        progress.metrics.as_mut().expect("zz.out is whole").banned_served = 1;
        ports
            .objects
            .insert("results", key, serde_json::to_vec(&progress).unwrap());
        ports.settings.budget = std::time::Duration::from_secs(60);

        let delivered = deliver_round(&ports, &second_job)
            .await
            .map(|progress| progress.expect("every file is done"));
        let outcome = record(&ports, &second_job).gate.unwrap();
        assert_eq!(outcome.failures[0].rule, "never_banned", "{outcome:?}");
        match on_fail {
            "hold" => assert!(delivered.unwrap().held),
            _ => assert_eq!(delivered.unwrap_err().error_name(), ErrorName::QualityGateFailed),
        }
        assert_eq!(pointer(&ports).job_id, first_job);
        let lists: HashMap<String, _> = ports.table().lists.lock().unwrap().clone().into_iter().collect();
        let version = record(&ports, &second_job).delivery.unwrap().version;
        assert!(
            lists.contains_key(&keys::user("spring", &version, "late-user")),
            "written, not served"
        );
    }
}
