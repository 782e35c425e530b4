//! Delivery scenarios on fakes: whole versions, resumed stretches, banned items, bad scores,
//! and time (budgets, versions, durations) read from a fake clock.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_trait::async_trait;
use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, version_id, Pointer, StoredList};
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::fakes::{test_form, FakeClock, FakeJobStore, FakeObjects, FakeRecommendations};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{JobStore, Published, RecommendationStore, TransitionError, TransitionExtras};

use crate::error::DeliverError;
use crate::ports::{DeliverPorts, DeliverSettings};
use crate::sequence::deliver_round;

mod fallbacks;
mod outputs;
mod quality;
mod shares;
mod workers;

/// The recommendations table in memory, where each `put_lists` takes `put_takes` of the fake
/// clock's time (as a real table's writes take real time).
struct TimedTable {
    table: FakeRecommendations,
    clock: Arc<FakeClock>,
    put_takes: Mutex<Duration>,
    /// A job cancelled (`DELETE /jobs/{id}`) as its delivery reads the current pointer once
    /// its score files' counts are merged: in the last moments before the publish.
    cancelled_at_pointer_read: Mutex<Option<JobId>>,
    /// A job whose cancel arrives just after its pointer's transaction, and what the job store
    /// answered it.
    cancelled_after_publish: Mutex<Option<JobId>>,
    cancel_after_publish_answer: Mutex<Option<Result<(), TransitionError>>>,
    jobs: Arc<FakeJobStore>,
}

#[async_trait]
impl RecommendationStore for TimedTable {
    async fn put_lists(&self, lists: Vec<StoredList>) -> Result<(), ServiceError> {
        self.clock.advance(*self.put_takes.lock().unwrap());
        self.table.put_lists(lists).await
    }

    async fn get_lists(&self, keys: &[String]) -> Result<HashMap<String, StoredList>, ServiceError> {
        self.table.get_lists(keys).await
    }

    async fn pointer(&self, result_set: &str) -> Result<Option<Pointer>, ServiceError> {
        let publishing = |job_id: &JobId| {
            self.jobs
                .record(job_id)
                .and_then(|r| r.delivery)
                .is_some_and(|d| d.files_read > 0)
        };
        let cancelled = {
            let mut cancelled = self.cancelled_at_pointer_read.lock().unwrap();
            cancelled.take_if(|job_id| publishing(job_id))
        };
        if let Some(job_id) = cancelled {
            self.jobs
                .transition(
                    &job_id,
                    JobStatus::Cancelled,
                    "DELETE /jobs/{id}",
                    TransitionExtras::default(),
                )
                .await
                .expect("a delivering job can be cancelled");
        }
        self.table.pointer(result_set).await
    }

    async fn publish(&self, pointer: &Pointer) -> Result<Published, ServiceError> {
        let published = self.table.publish(pointer).await;
        let cancelled = self.cancelled_after_publish.lock().unwrap().take();
        if let Some(job_id) = cancelled {
            let extras = TransitionExtras::default();
            let answer = self
                .jobs
                .transition(&job_id, JobStatus::Cancelled, "DELETE /jobs/{id}", extras)
                .await;
            *self.cancel_after_publish_answer.lock().unwrap() = Some(answer);
        }
        published
    }
}

struct FakePorts {
    jobs: Arc<FakeJobStore>,
    objects: FakeObjects,
    lists: TimedTable,
    clock: Arc<FakeClock>,
    settings: DeliverSettings,
}

impl FakePorts {
    fn table(&self) -> &FakeRecommendations {
        &self.lists.table
    }
}

impl DeliverPorts for FakePorts {
    type Jobs = FakeJobStore;
    type Objects = FakeObjects;
    type Lists = TimedTable;
    type Versions = FakeRecommendations;
    type Clock = FakeClock;

    fn jobs(&self) -> &FakeJobStore {
        &self.jobs
    }

    fn objects(&self) -> &FakeObjects {
        &self.objects
    }

    fn lists(&self) -> &TimedTable {
        &self.lists
    }

    fn versions(&self) -> &FakeRecommendations {
        &self.lists.table
    }

    fn clock(&self) -> &FakeClock {
        &self.clock
    }

    fn settings(&self) -> &DeliverSettings {
        &self.settings
    }
}

const USERS: &str = "USER_ID,GENDER,AGE,REGION\nu1,F,25,tokyo\nu2,F,26,tokyo\nu3,F,27,tokyo\nu4,F,28,tokyo\nu5,F,29,tokyo\nu6,M,45,osaka\n";
const INTERACTIONS: &str =
    "USER_ID,ITEM_ID,TIMESTAMP\nu1,dress,1\nu2,dress,1\nu3,bag,1\nu6,tent,1\nu6,tent,2\nu6,tent,3\n";

fn line(user: &str, items: &[&str]) -> String {
    let scores: Vec<f64> = (0..items.len()).map(|i| 1.0 - i as f64 / 10.0).collect();
    serde_json::json!({"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}, "error": null})
        .to_string()
}

/// A job that finished scoring, with `scores` as its batch output.
fn ports_with_scores(scores: &str, budget_seconds: u64) -> (FakePorts, JobId) {
    let clock = Arc::new(FakeClock::default());
    let jobs = Arc::new(FakeJobStore::default());
    let ports = FakePorts {
        jobs: jobs.clone(),
        objects: FakeObjects::default(),
        lists: TimedTable {
            table: FakeRecommendations::publishing_for(jobs.clone()),
            clock: clock.clone(),
            put_takes: Mutex::new(Duration::ZERO),
            cancelled_at_pointer_read: Mutex::new(None),
            cancelled_after_publish: Mutex::new(None),
            cancel_after_publish_answer: Mutex::new(None),
            jobs,
        },
        clock,
        settings: DeliverSettings {
            results_bucket: "results".into(),
            retention_seconds: 86_400,
            budget: Duration::from_secs(budget_seconds),
            max_skipped_share: 0.4,
            fallback_share_users: 1_000_000,
        },
    };
    ports.objects.insert("data", "u.csv", USERS);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    let job_id = scored_job(&ports, "spring-1", scores);
    (ports, job_id)
}

/// A job of the same result set that finished scoring, with `scores` as its batch output.
fn scored_job(ports: &FakePorts, id: &str, scores: &str) -> JobId {
    let job_id = ports.jobs.insert_queued(id, test_form("container"));
    ports.jobs.force_status(&job_id, JobStatus::Scoring);
    ports
        .objects
        .insert("results", &format!("jobs/{id}/scores/users.jsonl.out"), scores);
    job_id
}

/// One round of the state machine's steps: true once the version is published (or held).
async fn deliver(ports: &FakePorts, job_id: &JobId) -> Result<bool, DeliverError> {
    deliver_round(ports, job_id).await.map(|p| p.is_some())
}

/// What a score file's worker saved of its progress (nothing before its first save).
fn file_progress(ports: &FakePorts, job_id: &JobId, file: &str) -> crate::file_progress::FileProgress {
    let key = format!("jobs/{job_id}/delivery/{file}.json");
    ports
        .objects
        .get("results", &key)
        .map(|stored| serde_json::from_slice(&stored).unwrap())
        .unwrap_or_default()
}

fn pointer(ports: &FakePorts) -> Pointer {
    ports.table().pointers.lock().unwrap()["spring"].clone()
}

fn items(ports: &FakePorts, key: &str) -> Vec<String> {
    ports.table().lists.lock().unwrap()[key].items.clone()
}

#[tokio::test]
async fn a_job_s_scores_and_fallbacks_are_published_as_one_version() {
    let scores = [
        line("u1", &["bag", "dress"]),
        r#"{"input":"x","output":null,"error":"invalid JSON"}"#.to_owned(),
        line("u6", &["tent"]),
        String::new(),
    ]
    .join("\n");
    let (ports, job_id) = ports_with_scores(&scores, 60);
    assert!(deliver(&ports, &job_id).await.unwrap());

    let pointer = pointer(&ports);
    let version = pointer.version.clone();
    assert_eq!((pointer.users, pointer.num_results), (2, 5));
    assert_eq!(
        items(&ports, &keys::user("spring", &version, "u1")),
        ["bag", "dress"]
    );
    assert_eq!(
        items(&ports, &keys::global("spring", &version)),
        ["tent", "dress", "bag"]
    );
    assert_eq!(
        items(
            &ports,
            &keys::segment("spring", &version, "AGE=20-29|GENDER=F|REGION=tokyo")
        ),
        ["dress", "bag"]
    );
    let attributes = ports.table().lists.lock().unwrap()[&keys::attributes("spring", &version, "u6")].clone();
    assert_eq!(
        attributes.segment.as_deref(),
        Some("AGE=40-49|GENDER=M|REGION=osaka")
    );

    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.counts["users_delivered"], 2);
    assert_eq!(record.counts["lines_skipped"], 1);
    assert!(record.counts["segments_published"] >= 1);
    let statuses = ports.jobs.statuses(&job_id);
    assert_eq!(
        &statuses[statuses.len() - 2..],
        [JobStatus::Delivering, JobStatus::Succeeded]
    );

    // A retry after the answer was lost changes nothing.
    assert!(deliver(&ports, &job_id).await.unwrap());
}

#[tokio::test]
async fn large_output_is_split_across_invocations_without_losing_or_repeating_users() {
    let scores: Vec<String> = (0..450).map(|i| line(&format!("user-{i}"), &["dress"])).collect();
    let (ports, job_id) = ports_with_scores(&(scores.join("\n") + "\n"), 0);
    let mut calls = 0;
    while !deliver(&ports, &job_id).await.unwrap() {
        calls += 1;
        assert!(
            ports.table().pointers.lock().unwrap().is_empty(),
            "nothing is served before the end"
        );
        assert!(calls < 10);
    }
    assert_eq!(
        calls, 2,
        "three stretches of at most 200 lines: two more calls after the first"
    );
    assert_eq!(pointer(&ports).users, 450);
    assert_eq!(ports.jobs.record(&job_id).unwrap().counts["users_delivered"], 450);
    let version = pointer(&ports).version;
    let written = ports
        .table()
        .lists
        .lock()
        .unwrap()
        .keys()
        .filter(|k| k.starts_with(&format!("u#spring#{version}#")))
        .count();
    assert_eq!(written, 450);
}

#[tokio::test]
async fn a_failed_stretch_is_resumed_from_the_saved_cursor() {
    let scores: Vec<String> = (0..450).map(|i| line(&format!("user-{i}"), &["dress"])).collect();
    let (ports, job_id) = ports_with_scores(&(scores.join("\n") + "\n"), 60);
    // Writes: users' segments, fallback lists, then 200-line stretches. The second stretch's
    // write fails, as a table still throttling after every retry would.
    *ports.table().fail_put_call.lock().unwrap() = Some(4);
    let err = deliver(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ServiceThrottled);
    assert!(ports.table().pointers.lock().unwrap().is_empty());
    let saved = file_progress(&ports, &job_id, "users.jsonl.out");
    assert!(saved.users < 450 && !saved.done(), "{saved:?}");

    assert!(deliver(&ports, &job_id).await.unwrap());
    assert_eq!(pointer(&ports).users, 450, "every user counted once");
}

#[tokio::test]
async fn banned_items_are_never_published_and_are_kept_with_the_version() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag", "dress", "tent"]), 60);
    ports.objects.insert("data", "ng.csv", "ITEM_ID\nbag\n\"tent\"\n");
    let mut record = ports.jobs.record(&job_id).unwrap();
    record.form.as_mut().unwrap().exclude_items = Some("s3://data/ng.csv".into());
    ports.jobs.records.lock().unwrap().insert(job_id.clone(), record);

    assert!(deliver(&ports, &job_id).await.unwrap());
    let pointer = pointer(&ports);
    assert_eq!(pointer.excluded_items, ["bag", "tent"]);
    for list in ports.table().lists.lock().unwrap().values() {
        for banned in ["bag", "tent"] {
            assert!(!list.items.contains(&banned.to_owned()), "{list:?}");
        }
    }
}

#[tokio::test]
async fn too_many_bad_lines_publish_nothing() {
    let scores = ["not json", "also not", &line("u1", &["bag"])].join("\n");
    let (ports, job_id) = ports_with_scores(&scores, 60);
    let err = deliver(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ScoresInvalid);
    assert!(err.to_string().contains("2 of 3 score lines"), "{err}");
    assert!(ports.table().pointers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_scores_at_all_is_named() {
    let (ports, job_id) = ports_with_scores("", 60);
    ports
        .objects
        .objects
        .lock()
        .unwrap()
        .retain(|(_, key), _| !key.contains("/scores/"));
    let err = deliver(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ScoresInvalid);
    assert!(err.to_string().contains("jobs/spring-1/scores/"), "{err}");
}

#[tokio::test]
async fn an_older_job_finishing_late_does_not_replace_a_newer_version() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    let mut newer = Pointer {
        pk: keys::pointer("spring"),
        result_set: "spring".into(),
        version: "29990101T000000Z-ffffffff".into(),
        job_id: JobId::parse("later-1").unwrap(),
        published_at: "2999-01-01T00:00:00.000Z".into(),
        num_results: 5,
        excluded_items: Vec::new(),
        users: 1,
        segments: 0,
        expires_at: 0,
        previous_version: None,
        segment_dimensions: Default::default(),
        output: Default::default(),
    };
    ports
        .table()
        .pointers
        .lock()
        .unwrap()
        .insert("spring".into(), newer.clone());
    assert!(deliver(&ports, &job_id).await.unwrap());
    newer.published_at = pointer(&ports).published_at;
    assert_eq!(pointer(&ports), newer);
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert!(record.history.last().unwrap().detail.contains("not made current"));
}

#[tokio::test]
async fn the_time_budget_counts_from_the_invocation_s_start_on_the_clock() {
    let scores: Vec<String> = (0..450).map(|i| line(&format!("user-{i}"), &["dress"])).collect();
    let (ports, job_id) = ports_with_scores(&(scores.join("\n") + "\n"), 30);
    // Every write takes 20 s. The worker's first invocation writes two 200-line stretches (the
    // second ends past its 30 s); its second invocation, the last 50 lines.
    *ports.lists.put_takes.lock().unwrap() = Duration::from_secs(20);
    assert!(!deliver(&ports, &job_id).await.unwrap());
    let saved = file_progress(&ports, &job_id, "users.jsonl.out");
    assert_eq!((saved.users, saved.done()), (400, false), "{saved:?}");
    assert!(ports.table().pointers.lock().unwrap().is_empty());

    assert!(deliver(&ports, &job_id).await.unwrap());
    assert_eq!(pointer(&ports).users, 450);
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(
        record.counts["delivery_seconds"], 100,
        "five writes of 20 s (users' segments, fallback lists, three stretches) from begin to the publish"
    );
}

#[tokio::test]
async fn the_version_follows_the_submission_and_its_times_come_from_the_clock() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    set_created_at(&ports, &job_id, "2026-11-23T21:53:41.250Z");
    // Far from the real time, so a handler reading the system's time would be seen.
    ports.clock.advance(Duration::from_secs(1000 * 86_400));
    assert!(deliver(&ports, &job_id).await.unwrap());
    let pointer = pointer(&ports);
    assert_eq!(pointer.version, version_id(1_795_470_821, &job_id));
    assert!(
        pointer.version.starts_with("20261123T215341Z-"),
        "{}",
        pointer.version
    );
    assert_eq!(pointer.published_at, ports.clock.rfc3339_now());
    assert_eq!(pointer.expires_at, ports.clock.unix_now() + 86_400);
    let delivery = ports.jobs.record(&job_id).unwrap().delivery.unwrap();
    assert_eq!(delivery.started_at, ports.clock.rfc3339_now());
}

fn set_created_at(ports: &FakePorts, job_id: &JobId, created_at: &str) {
    ports
        .jobs
        .records
        .lock()
        .unwrap()
        .get_mut(job_id)
        .unwrap()
        .created_at = created_at.to_owned();
}

#[tokio::test]
async fn a_job_submitted_earlier_that_finishes_later_does_not_replace_the_later_job_s_version() {
    let (ports, earlier) = ports_with_scores(&line("u1", &["bag"]), 60);
    let later = scored_job(&ports, "spring-2", &line("u1", &["tent"]));
    set_created_at(&ports, &earlier, "2026-11-23T08:00:00.000Z");
    set_created_at(&ports, &later, "2026-11-23T09:00:00.000Z");

    // The later job (newer data) finishes first; the earlier one an hour after.
    assert!(deliver(&ports, &later).await.unwrap());
    ports.clock.advance(Duration::from_secs(3_600));
    assert!(deliver(&ports, &earlier).await.unwrap());

    let current = pointer(&ports);
    assert_eq!(current.job_id, later);
    assert_eq!(
        items(&ports, &keys::user("spring", &current.version, "u1")),
        ["tent"]
    );
    let record = ports.jobs.record(&earlier).unwrap();
    assert_eq!(
        record.status,
        JobStatus::Succeeded,
        "its version is kept, not current"
    );
    let detail = &record.history.last().unwrap().detail;
    assert!(
        detail.contains("not made current") && detail.contains(&current.version),
        "{detail}"
    );
}

#[tokio::test]
async fn a_job_cancelled_in_the_last_moments_of_its_delivery_is_never_made_current() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    *ports.lists.cancelled_at_pointer_read.lock().unwrap() = Some(job_id.clone());

    let err = deliver(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::JobCancelled);
    assert!(
        ports.table().pointers.lock().unwrap().is_empty(),
        "a cancelled job's version is never current"
    );
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Cancelled);
    let delivery = record.delivery.unwrap();
    assert!(!delivery.published);
    // Its lists stay written, unreferenced, until they expire.
    let written = ports.table().lists.lock().unwrap()[&keys::user("spring", &delivery.version, "u1")].clone();
    assert_eq!(written.expires_at, delivery.expires_at);
}

#[tokio::test]
async fn a_cancel_after_the_pointer_moved_is_refused_and_the_job_succeeds() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["bag"]), 60);
    *ports.lists.cancelled_after_publish.lock().unwrap() = Some(job_id.clone());

    deliver(&ports, &job_id).await.unwrap();

    let answer = ports.lists.cancel_after_publish_answer.lock().unwrap().take();
    assert!(
        matches!(
            answer,
            Some(Err(TransitionError::Illegal {
                from: JobStatus::Delivering,
                ..
            }))
        ),
        "{answer:?}"
    );
    let record = ports.jobs.record(&job_id).unwrap();
    let version = record.delivery.as_ref().unwrap().version.clone();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.made_current.as_deref(), Some(version.as_str()));
    assert!(record.cancellation.is_none());
    assert_eq!(ports.table().pointers.lock().unwrap()["spring"].version, version);
}

#[tokio::test]
async fn every_score_file_is_read_however_many_there_are_and_the_cursor_stays_small() {
    let (ports, job_id) = ports_with_scores("", 600);
    // More files than one listing page holds many times over, with other files between them.
    let files = 10_050;
    for i in 0..files {
        let key = format!("jobs/spring-1/scores/part-{i:05}.jsonl.out");
        ports
            .objects
            .insert("results", &key, line(&format!("user-{i}"), &["dress"]));
    }
    ports
        .objects
        .insert("results", "jobs/spring-1/scores/_manifest.json", "{}");
    ports.objects.insert(
        "results",
        "jobs/spring-1/scores/part-05000.jsonl.log",
        "not scores",
    );

    assert!(deliver(&ports, &job_id).await.unwrap());
    assert_eq!(pointer(&ports).users, files, "one user per file");
    let delivery = ports.jobs.record(&job_id).unwrap().delivery.unwrap();
    assert_eq!(delivery.files_read, files + 1, "and the empty users.jsonl.out");
    let stored = serde_json::to_vec(&delivery).unwrap();
    assert!(stored.len() < 1_024, "the cursor holds {} bytes", stored.len());
}

#[tokio::test]
async fn a_five_mib_score_line_without_a_newline_is_skipped_and_the_others_delivered() {
    let huge = format!("{{\"input\":{{\"userId\":\"{}\"", "x".repeat(5 * 1024 * 1024));
    let scores = [line("u1", &["bag"]), line("u2", &["dress"]), huge].join("\n");
    let (ports, job_id) = ports_with_scores(&scores, 60);
    assert!(deliver(&ports, &job_id).await.unwrap());
    assert_eq!(pointer(&ports).users, 2);
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.counts["lines_skipped"], 1);
}

#[tokio::test]
async fn banned_items_take_no_share_of_the_popular_lists() {
    let (ports, job_id) = ports_with_scores(&line("u1", &["dress"]), 60);
    ports.objects.insert("data", "ng.csv", "tent\n");
    let mut record = ports.jobs.record(&job_id).unwrap();
    record.form.as_mut().unwrap().exclude_items = Some("s3://data/ng.csv".into());
    ports.jobs.records.lock().unwrap().insert(job_id.clone(), record);

    assert!(deliver(&ports, &job_id).await.unwrap());
    let version = pointer(&ports).version;
    let global = ports.table().lists.lock().unwrap()[&keys::global("spring", &version)].clone();
    // Of the interactions with items that may be shown: dress 2, bag 1 (tent's 3 not counted).
    assert_eq!(global.items, ["dress", "bag"]);
    assert_eq!(global.scores, [0.666667, 0.333333]);
}
