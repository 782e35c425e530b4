//! The users to score: the segment's users written as scoring input, in chunks when large;
//! a segment of nobody fails the job.

use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::Backend;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::phase::Phase;

use super::{ports_with_job, task, FakePreparePorts, INTERACTIONS, USERS};
use crate::handler::handle;

fn scoring_input(ports: &FakePreparePorts, job_id: &JobId) -> String {
    String::from_utf8(
        ports
            .objects
            .get("results", &format!("jobs/{job_id}/input/users.jsonl"))
            .expect("the scoring input exists"),
    )
    .unwrap()
}

#[tokio::test]
async fn good_files_give_the_plan_and_the_segment_users() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", USERS);
    let plan = handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(plan.phases, [Phase::Train, Phase::Score]);
    assert_eq!(plan.backend, Backend::Container);
    assert_eq!(serde_json::to_value(&plan).unwrap()["backend"], "container");
    assert_eq!(plan.users_to_score, 2);
    assert_eq!(
        scoring_input(&ports, &job_id),
        "{\"userId\":\"u1\"}\n{\"userId\":\"u,3\"}\n"
    );
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.status, JobStatus::Preparing);
    let prepared = record.prepared.unwrap();
    assert_eq!(
        prepared.files[0].columns,
        ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
    );
    assert_eq!(prepared.users_to_score, 2);
    assert_eq!(record.counts["users_to_score"], 2);
    // A Step Functions retry of the same state is harmless.
    handle(&ports, task(&job_id)).await.unwrap();
}

#[tokio::test]
async fn without_a_users_file_every_user_of_the_interactions_is_scored() {
    let (ports, job_id) = ports_with_job(false);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    let plan = handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(plan.users_to_score, 2);
}

#[tokio::test]
async fn a_large_users_file_is_uploaded_in_chunks() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    let mut users = String::from("USER_ID,GENDER\n");
    for i in 0..200_000 {
        users.push_str(&format!("user-{i},F\n"));
    }
    ports.objects.insert("data", "u.csv", users);
    let plan = handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(plan.users_to_score, 200_000);
    let key = format!("jobs/{job_id}/input/users.jsonl");
    assert!(ports.objects.chunk_counts.lock().unwrap()[&key] > 1);
    assert_eq!(scoring_input(&ports, &job_id).lines().count(), 200_000);
}

#[tokio::test]
async fn a_segment_that_matches_nobody_fails_before_anything_is_launched() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports
        .objects
        .insert("data", "u.csv", "USER_ID,GENDER\nu1,M\nu2,M\n");
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::SegmentEmpty);
    assert_eq!(
        err.to_string(),
        "the segment (gender F) matches none of the 2 users in s3://data/u.csv; nothing was launched"
    );
}

#[tokio::test]
async fn a_segment_column_missing_from_the_users_file_is_named() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", "USER_ID,AGE\nu1,30\n");
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DatasetInvalid);
    assert!(err.to_string().contains("has no GENDER column"), "{err}");
}
