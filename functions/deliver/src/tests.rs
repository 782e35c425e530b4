//! Delivery scenarios on fakes: whole versions, resumed stretches, banned items, bad scores.

use std::time::Duration;

use recoflow_core::delivery::{keys, Pointer};
use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::fakes::{test_form, FakeJobStore, FakeObjects, FakeRecommendations};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::RecommendationStore;
use recoflow_core::task::JobTask;

use crate::handler::{handle, DeliverDeps, DeliverSettings};

type Deps = DeliverDeps<FakeJobStore, FakeObjects, FakeRecommendations>;

const USERS: &str = "USER_ID,GENDER,AGE,REGION\nu1,F,25,tokyo\nu2,F,26,tokyo\nu3,F,27,tokyo\nu4,F,28,tokyo\nu5,F,29,tokyo\nu6,M,45,osaka\n";
const INTERACTIONS: &str =
    "USER_ID,ITEM_ID,TIMESTAMP\nu1,dress,1\nu2,dress,1\nu3,bag,1\nu6,tent,1\nu6,tent,2\nu6,tent,3\n";

fn line(user: &str, items: &[&str]) -> String {
    let scores: Vec<f64> = (0..items.len()).map(|i| 1.0 - i as f64 / 10.0).collect();
    serde_json::json!({"input": {"userId": user}, "output": {"recommendedItems": items, "scores": scores}, "error": null})
        .to_string()
}

/// A job that finished scoring, with `scores` as its batch output.
fn deps_with_scores(scores: &str, budget_seconds: u64) -> (Deps, JobId) {
    let deps = DeliverDeps {
        jobs: FakeJobStore::default(),
        objects: FakeObjects::default(),
        lists: FakeRecommendations::default(),
        settings: DeliverSettings {
            results_bucket: "results".into(),
            retention_seconds: 86_400,
            budget: Duration::from_secs(budget_seconds),
            max_skipped_share: 0.4,
        },
    };
    let job_id = deps.jobs.insert_queued("spring-1", test_form("container"));
    deps.jobs.force_status(&job_id, JobStatus::Scoring);
    deps.objects.insert("data", "u.csv", USERS);
    deps.objects.insert("data", "i.csv", INTERACTIONS);
    deps.objects
        .insert("results", "jobs/spring-1/scores/users.jsonl.out", scores);
    (deps, job_id)
}

async fn deliver(deps: &Deps, job_id: &JobId) -> Result<bool, crate::handler::DeliverError> {
    handle(deps, JobTask::new(job_id)).await.map(|p| p.done)
}

fn pointer(deps: &Deps) -> Pointer {
    deps.lists.pointers.lock().unwrap()["spring"].clone()
}

fn items(deps: &Deps, key: &str) -> Vec<String> {
    deps.lists.lists.lock().unwrap()[key].items.clone()
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
    let (deps, job_id) = deps_with_scores(&scores, 60);
    assert!(deliver(&deps, &job_id).await.unwrap());

    let pointer = pointer(&deps);
    let version = pointer.version.clone();
    assert_eq!((pointer.users, pointer.num_results), (2, 5));
    assert_eq!(
        items(&deps, &keys::user("spring", &version, "u1")),
        ["bag", "dress"]
    );
    assert_eq!(
        items(&deps, &keys::global("spring", &version)),
        ["tent", "dress", "bag"]
    );
    assert_eq!(
        items(
            &deps,
            &keys::segment("spring", &version, "AGE=20-29|GENDER=F|REGION=tokyo")
        ),
        ["dress", "bag"]
    );
    let attributes = deps.lists.lists.lock().unwrap()[&keys::attributes("spring", &version, "u6")].clone();
    assert_eq!(
        attributes.segment.as_deref(),
        Some("AGE=40-49|GENDER=M|REGION=osaka")
    );

    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.counts["users_delivered"], 2);
    assert_eq!(record.counts["lines_skipped"], 1);
    assert!(record.counts["segments_published"] >= 1);
    let statuses = deps.jobs.statuses(&job_id);
    assert_eq!(
        &statuses[statuses.len() - 2..],
        [JobStatus::Delivering, JobStatus::Succeeded]
    );

    // A retry after the answer was lost changes nothing.
    assert!(deliver(&deps, &job_id).await.unwrap());
}

#[tokio::test]
async fn large_output_is_split_across_invocations_without_losing_or_repeating_users() {
    let scores: Vec<String> = (0..450).map(|i| line(&format!("user-{i}"), &["dress"])).collect();
    let (deps, job_id) = deps_with_scores(&(scores.join("\n") + "\n"), 0);
    let mut calls = 0;
    while !deliver(&deps, &job_id).await.unwrap() {
        calls += 1;
        assert!(
            deps.lists.pointers.lock().unwrap().is_empty(),
            "nothing is served before the end"
        );
        assert!(calls < 10);
    }
    assert_eq!(
        calls, 2,
        "three stretches of at most 200 lines: two more calls after the first"
    );
    assert_eq!(pointer(&deps).users, 450);
    assert_eq!(deps.jobs.record(&job_id).unwrap().counts["users_delivered"], 450);
    let version = pointer(&deps).version;
    let written = deps
        .lists
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
    let (deps, job_id) = deps_with_scores(&(scores.join("\n") + "\n"), 60);
    // Writes: users' segments, fallback lists, then 200-line stretches. The second stretch's
    // write fails, as a table still throttling after every retry would.
    *deps.lists.fail_put_call.lock().unwrap() = Some(4);
    let err = deliver(&deps, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ServiceThrottled);
    assert!(deps.lists.pointers.lock().unwrap().is_empty());
    let saved = deps.jobs.record(&job_id).unwrap().delivery.unwrap();
    assert!(saved.users < 450 && !saved.published, "{saved:?}");

    assert!(deliver(&deps, &job_id).await.unwrap());
    assert_eq!(pointer(&deps).users, 450, "every user counted once");
}

#[tokio::test]
async fn banned_items_are_never_published_and_are_kept_with_the_version() {
    let (deps, job_id) = deps_with_scores(&line("u1", &["bag", "dress", "tent"]), 60);
    deps.objects.insert("data", "ng.csv", "ITEM_ID\nbag\n\"tent\"\n");
    let mut record = deps.jobs.record(&job_id).unwrap();
    record.form.as_mut().unwrap().exclude_items = Some("s3://data/ng.csv".into());
    deps.jobs.records.lock().unwrap().insert(job_id.clone(), record);

    assert!(deliver(&deps, &job_id).await.unwrap());
    let pointer = pointer(&deps);
    assert_eq!(pointer.excluded_items, ["bag", "tent"]);
    for list in deps.lists.lists.lock().unwrap().values() {
        for banned in ["bag", "tent"] {
            assert!(!list.items.contains(&banned.to_owned()), "{list:?}");
        }
    }
}

#[tokio::test]
async fn too_many_bad_lines_publish_nothing() {
    let scores = ["not json", "also not", &line("u1", &["bag"])].join("\n");
    let (deps, job_id) = deps_with_scores(&scores, 60);
    let err = deliver(&deps, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ScoresInvalid);
    assert!(err.to_string().contains("2 of 3 score lines"), "{err}");
    assert!(deps.lists.pointers.lock().unwrap().is_empty());
}

#[tokio::test]
async fn no_scores_at_all_is_named() {
    let (deps, job_id) = deps_with_scores("", 60);
    deps.objects
        .objects
        .lock()
        .unwrap()
        .retain(|(_, key), _| !key.contains("/scores/"));
    let err = deliver(&deps, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ScoresInvalid);
    assert!(err.to_string().contains("jobs/spring-1/scores/"), "{err}");
}

#[tokio::test]
async fn an_older_job_finishing_late_does_not_replace_a_newer_version() {
    let (deps, job_id) = deps_with_scores(&line("u1", &["bag"]), 60);
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
    };
    deps.lists.publish(&newer).await.unwrap();
    assert!(deliver(&deps, &job_id).await.unwrap());
    newer.published_at = pointer(&deps).published_at;
    assert_eq!(pointer(&deps), newer);
    let record = deps.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert!(record.history.last().unwrap().detail.contains("not made current"));
}
