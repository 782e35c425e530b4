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

/// A job on a members file (PREFECTURE, MEMBER_RANK, POINTS) with this segment and fallback.
fn members_job(segment: serde_json::Value, fallback: Option<serde_json::Value>) -> (FakePreparePorts, JobId) {
    let (ports, _) = ports_with_job(true);
    let mut form = recoflow_core::fakes::test_form("container");
    form.segment = Some(serde_json::from_value(segment).unwrap());
    form.fallback = fallback.map(|f| serde_json::from_value(f).unwrap());
    let job_id = ports.jobs.insert_queued("members-1", form);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    // 都 as the compatibility ideograph U+FA26, which NFC makes the unified 都.
    let decomposed = "東京\u{FA26}";
    ports.objects.insert(
        "data",
        "u.csv",
        format!("USER_ID,PREFECTURE,MEMBER_RANK,POINTS\nu1,{decomposed},gold,10\nu2,大阪府,gold,x\nu3,東京都,trial,\n"),
    );
    (ports, job_id)
}

#[tokio::test]
async fn a_segment_on_any_column_selects_by_normalised_text() {
    let (ports, job_id) = members_job(
        serde_json::json!({"attributes": {"PREFECTURE": {"in": ["東京都"]}, "member_rank": {"not_in": ["trial"]}}}),
        Some(serde_json::json!({"attributes": ["PREFECTURE", "MEMBER_RANK"]})),
    );
    let plan = handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(plan.users_to_score, 1);
    assert_eq!(scoring_input(&ports, &job_id), "{\"userId\":\"u1\"}\n");
}

#[tokio::test]
async fn an_unknown_column_fails_before_the_users_are_read() {
    for (segment, fallback, named) in [
        (
            serde_json::json!({"attributes": {"CITY": {"in": ["x"]}}}),
            None,
            "has no CITY column, which segment.attributes.CITY needs",
        ),
        (
            serde_json::json!({"attributes": {"PREFECTURE": {"in": ["東京都"]}}}),
            Some(serde_json::json!({"attributes": ["PREFECTURE", "store"]})),
            "has no STORE column, which fallback.attributes needs",
        ),
    ] {
        let (ports, job_id) = members_job(segment, fallback);
        let err = handle(&ports, task(&job_id)).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::DatasetInvalid);
        assert!(
            err.to_string().starts_with("dataset.users: s3://data/u.csv"),
            "{err}"
        );
        assert!(err.to_string().contains(named), "{err}");
        assert!(
            ports
                .objects
                .get("results", &format!("jobs/{job_id}/input/users.jsonl"))
                .is_none(),
            "nothing written, nothing launched"
        );
    }
}

#[tokio::test]
async fn a_range_on_a_column_of_text_is_named() {
    let (ports, job_id) = members_job(serde_json::json!({"attributes": {"POINTS": {"min": 5}}}), None);
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DatasetInvalid);
    assert!(
        err.to_string()
            .contains("column POINTS holds \"x\", which is not a number"),
        "{err}"
    );
}
