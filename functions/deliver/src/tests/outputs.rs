//! The other outputs on fakes: similar items (each item's list, its category, the category and
//! global lists, banned items never in any) and audiences (the segment's users only, ranked
//! CSVs, the manifest written last, the gate's metrics).

use recoflow_core::delivery::keys;
use recoflow_core::form::{JobForm, Output};
use recoflow_core::job::{JobId, JobStatus, Prepared};
use recoflow_core::outputs::audience::{manifest_key, AudienceManifest};
use recoflow_core::outputs::similar;
use recoflow_core::ports::{JobPatch, JobStore};

use super::{deliver, items, pointer, ports_with_scores, FakePorts};

/// The container test form made into `output`, with an items file.
fn form_making(output: serde_json::Value) -> JobForm {
    let mut form = serde_json::to_value(recoflow_core::fakes::test_form("container")).unwrap();
    let object = form.as_object_mut().unwrap();
    object.remove("num_results");
    object.insert(
        "dataset".into(),
        serde_json::json!({"interactions": "s3://data/i.csv", "users": "s3://data/u.csv", "items": "s3://data/items.csv"}),
    );
    for (key, value) in output.as_object().unwrap() {
        object.insert(key.clone(), value.clone());
    }
    serde_json::from_value(form).unwrap()
}

/// A job of `form` that finished scoring with `scores`; the segment's users (Prepare's
/// scoring input) are `candidates`.
async fn scored(form: JobForm, scores: &str, candidates: &[&str]) -> (FakePorts, JobId) {
    let (ports, _) = ports_with_scores("", 60);
    let id = "outputs-1";
    let job_id = ports.jobs.insert_queued(id, form);
    ports.jobs.force_status(&job_id, JobStatus::Scoring);
    ports
        .objects
        .insert("results", &format!("jobs/{id}/scores/items.jsonl.out"), scores);
    // The segment's users in two of Prepare's parts.
    let (first, second) = candidates.split_at(candidates.len() / 2);
    for (part, users) in [first, second].into_iter().enumerate() {
        let members: String = users
            .iter()
            .map(|u| format!("{{\"userId\":\"{u}\"}}\n"))
            .collect();
        let key = format!("jobs/{id}/input/users/g0000/part-{part:05}.jsonl");
        ports.objects.insert("results", &key, members);
    }
    ports.objects.insert(
        "data",
        "items.csv",
        "ITEM_ID,CATEGORY\ndress,fashion\nbag,fashion\ntent,outdoor\nnew-coat,fashion\n",
    );
    ports.objects.insert("data", "banned.txt", "bag\n");
    let prepared = Prepared {
        files: Vec::new(),
        scoring_input: format!("s3://results/jobs/{id}/input/users/"),
        users_to_score: candidates.len() as u64,
        scoring_parts: 2,
        scoring_groups: 1,
    };
    ports
        .jobs
        .patch(&job_id, JobPatch::Prepared(prepared), None)
        .await
        .unwrap();
    (ports, job_id)
}

fn item_line(item: &str, similar: &[&str]) -> String {
    let scores: Vec<f64> = (0..similar.len()).map(|i| 0.9 - i as f64 / 10.0).collect();
    serde_json::json!({"input": {"itemId": item}, "output": {"recommendedItems": similar, "scores": scores}, "error": null})
        .to_string()
}

#[tokio::test]
async fn similar_items_are_kept_per_item_with_each_item_s_category_and_popular_lists() {
    let mut form = form_making(serde_json::json!({"output": "similar_items", "num_results": 3}));
    form.segment = None;
    form.exclude_items = Some("s3://data/banned.txt".into());
    let scores = [
        item_line("dress", &["bag", "tent"]),
        item_line("tent", &["dress"]),
        item_line("bag", &[]),
    ]
    .join("\n");
    let (ports, job_id) = scored(form, &scores, &[]).await;
    assert!(deliver(&ports, &job_id).await.unwrap());

    let pointer = pointer(&ports);
    let version = pointer.version.clone();
    assert_eq!((pointer.output, pointer.users), (Output::SimilarItems, 3));
    assert_eq!(
        items(&ports, &similar::keys::similar("spring", &version, "dress")),
        ["tent"],
        "bag is banned"
    );
    assert_eq!(
        items(&ports, &similar::keys::similar("spring", &version, "tent")),
        ["dress"]
    );
    let category = |item: &str| {
        ports.table().lists.lock().unwrap()[&similar::keys::item_category("spring", &version, item)]
            .segment
            .clone()
    };
    assert_eq!(category("new-coat").as_deref(), Some("fashion"));
    assert_eq!(category("tent").as_deref(), Some("outdoor"));
    // Interactions: dress ×2, bag (banned), tent ×3.
    assert_eq!(
        items(&ports, &similar::keys::category("spring", &version, "fashion")),
        ["dress"]
    );
    assert_eq!(
        items(&ports, &keys::global("spring", &version)),
        ["tent", "dress"]
    );
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    let metrics = ports.table().versions.lock().unwrap()[&("spring".to_owned(), version.clone())]
        .metrics
        .clone()
        .unwrap();
    assert_eq!(
        (
            metrics.users_personalized,
            metrics.segments_published,
            metrics.banned_served
        ),
        (3, 2, 0)
    );
    assert!(metrics.catalog_coverage.is_some());
}

fn read(ports: &FakePorts, key: &str) -> String {
    let found = ports
        .objects
        .get("results", key)
        .unwrap_or_else(|| panic!("{key} was written"));
    String::from_utf8(found).unwrap()
}

#[tokio::test]
async fn an_audience_keeps_the_segment_s_users_ranked_in_a_csv_per_item_and_its_manifest() {
    let form = form_making(serde_json::json!({
        "output": "audience", "audience": {"items": ["dress", "tent", "gone"], "size": 3},
        "segment": {"gender": ["F"], "age": {"min": 20, "max": 29}}
    }));
    let scores = [
        r#"{"input":{"itemId":"dress"},"output":{"usersList":["u6","u3","u1","u2","u5","u4"]},"error":null}"#,
        r#"{"input":{"itemId":"tent"},"output":{"usersList":["u6","u4"]},"error":null}"#,
        r#"{"input":{"itemId":"gone"},"output":null,"error":"Item gone was not in the training data."}"#,
    ]
    .join("\n");
    let (ports, job_id) = scored(form, &scores, &["u1", "u2", "u3", "u4", "u5"]).await;
    assert!(deliver(&ports, &job_id).await.unwrap());

    let pointer = pointer(&ports);
    assert_eq!(
        (pointer.output, pointer.users, pointer.segments),
        (Output::Audience, 4, 3)
    );
    let manifest: AudienceManifest =
        serde_json::from_str(&read(&ports, &manifest_key("spring", &pointer.version))).unwrap();
    assert_eq!(manifest.columns, ["GENDER", "AGE"]);
    let dress = manifest.find(Some("dress")).unwrap();
    assert_eq!(dress.size, 3);
    // Six users ranked: u3 second (1 - 1/6), u6 is not in the segment.
    assert_eq!(
        read(&ports, &dress.csv),
        "user_id,score,GENDER,AGE\nu3,0.833333,F,27\nu1,0.666667,F,25\nu2,0.5,F,26\n"
    );
    assert_eq!(
        serde_json::to_value(&dress.breakdown["AGE"]).unwrap(),
        serde_json::json!([{"value": "20-29", "users": 3}])
    );
    assert_eq!(manifest.find(Some("tent")).unwrap().size, 1);
    let gone = manifest.find(Some("gone")).unwrap();
    assert_eq!(
        (gone.size, gone.error.as_deref()),
        (0, Some("Item gone was not in the training data."))
    );
    assert_eq!(read(&ports, &gone.csv), "user_id,score,GENDER,AGE\n");

    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Succeeded);
    assert_eq!(record.counts["users_delivered"], 4);
    let version =
        ports.table().versions.lock().unwrap()[&("spring".to_owned(), pointer.version.clone())].clone();
    let metrics = version.metrics.unwrap();
    assert_eq!((metrics.users_personalized, metrics.segments_published), (4, 3));
    assert_eq!(metrics.catalog_coverage, None, "not a measure of audiences");
    assert!(version.gate.unwrap().passed);
    // Nothing was written under the user lists' keys.
    assert!(!ports
        .table()
        .lists
        .lock()
        .unwrap()
        .keys()
        .any(|k| k.starts_with("u#")));
}
