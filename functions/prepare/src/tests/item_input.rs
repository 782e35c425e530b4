//! The items an audience or similar-items job asks about: written as batch input lines beside
//! the users; an item filter naming a column the items file lacks fails the job here.

use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;

use super::{task, FakePreparePorts, INTERACTIONS, USERS};
use crate::handler::handle;
use crate::tests::ports_with_job;

const ITEMS: &str = "ITEM_ID,category\ni1,coat\ni2,hat\n";

/// The container job of `ports_with_job` made into `output` (with the items file).
fn job_making(output: serde_json::Value) -> (FakePreparePorts, JobId) {
    let (ports, job_id) = ports_with_job(true);
    let mut record = ports.jobs.record(&job_id).unwrap();
    let mut form = serde_json::to_value(record.form.take().unwrap()).unwrap();
    let object = form.as_object_mut().unwrap();
    object.remove("num_results");
    object.insert(
        "dataset".into(),
        serde_json::json!({
            "interactions": "s3://data/i.csv", "users": "s3://data/u.csv", "items": "s3://data/items.csv"
        }),
    );
    for (key, value) in output.as_object().unwrap() {
        object.insert(key.clone(), value.clone());
    }
    if output["output"] == "similar_items" {
        object.remove("segment");
    }
    let form: JobForm = serde_json::from_value(form).unwrap();
    let ports = FakePreparePorts {
        jobs: Default::default(),
        objects: ports.objects,
        results_bucket: ports.results_bucket,
        scoring_layout: ports.scoring_layout,
    };
    let job_id = ports.jobs.insert_queued("spring-2", form);
    for (key, body) in [("i.csv", INTERACTIONS), ("u.csv", USERS), ("items.csv", ITEMS)] {
        ports.objects.insert("data", key, body);
    }
    (ports, job_id)
}

fn item_input(ports: &FakePreparePorts, job_id: &JobId) -> String {
    let body = ports
        .objects
        .get("results", &format!("jobs/{job_id}/input/items.jsonl"));
    String::from_utf8(body.expect("the item input exists")).unwrap()
}

#[tokio::test]
async fn an_audience_for_items_asks_about_each_item() {
    let (ports, job_id) =
        job_making(serde_json::json!({"output": "audience", "audience": {"items": ["i2", "i1"]}}));
    handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(
        item_input(&ports, &job_id),
        "{\"itemId\":\"i2\"}\n{\"itemId\":\"i1\"}\n"
    );
    assert_eq!(ports.jobs.record(&job_id).unwrap().counts["items_to_score"], 2);
}

#[tokio::test]
async fn an_audience_for_an_item_filter_asks_one_expression_per_alternative() {
    let (ports, job_id) = job_making(serde_json::json!({"output": "audience",
        "audience": {"item_filter": {"CATEGORY": ["coat", "hat"]}}}));
    handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(
        item_input(&ports, &job_id),
        "{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"coat\\\"\"}\n{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"hat\\\"\"}\n"
    );
}

#[tokio::test]
async fn a_filter_column_the_items_file_lacks_is_named_before_anything_is_launched() {
    let (ports, job_id) = job_making(serde_json::json!({"output": "audience",
        "audience": {"item_filter": {"COLOUR": ["red"]}}}));
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DatasetInvalid);
    let message = err.to_string();
    assert!(
        message.contains("dataset.items")
            && message.contains("no column COLOUR")
            && message.contains("ITEM_ID, CATEGORY"),
        "{message}"
    );
}

#[tokio::test]
async fn similar_items_ask_about_every_item_of_the_interactions() {
    let (ports, job_id) = job_making(serde_json::json!({"output": "similar_items"}));
    handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(item_input(&ports, &job_id), "{\"itemId\":\"i1\"}\n");
}

#[tokio::test]
async fn users_lists_write_no_item_input() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", USERS);
    handle(&ports, task(&job_id)).await.unwrap();
    assert!(ports
        .objects
        .get("results", &format!("jobs/{job_id}/input/items.jsonl"))
        .is_none());
    assert!(!ports
        .jobs
        .record(&job_id)
        .unwrap()
        .counts
        .contains_key("items_to_score"));
}
