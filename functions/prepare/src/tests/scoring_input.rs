//! The users to score: the segment's users written as scoring input in parts, each in chunks
//! when large; a segment of nobody, or of more users than the parts allowed hold, fails the job.

use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::Backend;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::phase::Phase;

use recoflow_core::scoring_parts::{PartLayout, PERSONALIZE_BATCH_USERS};

use super::{ports_with_job, scoring_parts, task, FakePreparePorts, INTERACTIONS, USERS};
use crate::handler::handle;

/// Every part's lines, in order.
fn scoring_input(ports: &FakePreparePorts, job_id: &JobId) -> String {
    let parts = scoring_parts(ports, job_id);
    assert!(!parts.is_empty(), "the scoring input exists");
    parts.into_iter().map(|(_, lines)| lines).collect()
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
    assert_eq!(prepared.scoring_input, "s3://results/jobs/spring-1/input/users/");
    assert_eq!((prepared.scoring_parts, prepared.scoring_groups), (1, 1));
    assert_eq!(record.counts["users_to_score"], 2);
    assert_eq!(record.counts["scoring_parts"], 1);
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
    let key = format!("jobs/{job_id}/input/users/g0000/part-00000.jsonl");
    assert!(ports.objects.chunk_counts.lock().unwrap()[&key] > 1);
    assert_eq!(scoring_input(&ports, &job_id).lines().count(), 200_000);
}

/// A job on a users file of `users` users, in parts of 2, at most 5 users (2 parts) a group.
fn small_parts_job(users: usize) -> (FakePreparePorts, JobId) {
    let (mut ports, job_id) = ports_with_job(true);
    ports.scoring_layout = PartLayout::new(2, 5);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    let rows: String = (0..users).map(|i| format!("u{i},F\n")).collect();
    ports
        .objects
        .insert("data", "u.csv", format!("USER_ID,GENDER\n{rows}"));
    (ports, job_id)
}

/// Each part's key and users.
fn part_users(ports: &FakePreparePorts, job_id: &JobId) -> Vec<(String, Vec<String>)> {
    scoring_parts(ports, job_id)
        .into_iter()
        .map(|(key, lines)| {
            let users = lines
                .lines()
                .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap()["userId"].to_string())
                .collect();
            (key, users)
        })
        .collect()
}

#[tokio::test]
async fn the_users_fill_parts_of_the_part_size_in_groups() {
    // Exactly two parts: no empty third one.
    let (ports, job_id) = small_parts_job(4);
    handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(
        part_users(&ports, &job_id),
        [
            (
                "g0000/part-00000.jsonl".to_owned(),
                vec!["\"u0\"".to_owned(), "\"u1\"".to_owned()]
            ),
            (
                "g0000/part-00001.jsonl".to_owned(),
                vec!["\"u2\"".to_owned(), "\"u3\"".to_owned()]
            ),
        ]
    );
    let prepared = ports.jobs.record(&job_id).unwrap().prepared.unwrap();
    assert_eq!((prepared.scoring_parts, prepared.scoring_groups), (2, 1));

    // One more user: a third part, in the next group.
    let (ports, job_id) = small_parts_job(5);
    handle(&ports, task(&job_id)).await.unwrap();
    let parts = part_users(&ports, &job_id);
    let keys: Vec<&str> = parts.iter().map(|(key, _)| key.as_str()).collect();
    assert_eq!(
        keys,
        [
            "g0000/part-00000.jsonl",
            "g0000/part-00001.jsonl",
            "g0001/part-00002.jsonl"
        ]
    );
    assert_eq!(parts[2].1, ["\"u4\""]);
    let record = ports.jobs.record(&job_id).unwrap();
    let prepared = record.prepared.unwrap();
    assert_eq!((prepared.scoring_parts, prepared.scoring_groups), (3, 2));
    assert_eq!(record.counts["scoring_parts"], 3);
}

#[tokio::test]
async fn a_part_boundary_inside_a_chunk_splits_the_chunk_at_a_line() {
    // 200,000 users leave in chunks of many lines: parts of 70,000 cut through them.
    let (mut ports, job_id) = small_parts_job(0);
    ports.scoring_layout = PartLayout::new(70_000, PERSONALIZE_BATCH_USERS);
    let rows: String = (0..200_000).map(|i| format!("user-{i},F\n")).collect();
    ports
        .objects
        .insert("data", "u.csv", format!("USER_ID,GENDER\n{rows}"));
    handle(&ports, task(&job_id)).await.unwrap();
    let parts = scoring_parts(&ports, &job_id);
    let lines: Vec<usize> = parts.iter().map(|(_, lines)| lines.lines().count()).collect();
    assert_eq!(lines, [70_000, 70_000, 60_000]);
    assert!(parts[1].1.starts_with("{\"userId\":\"user-70000\"}\n"));
    assert!(parts.iter().all(|(_, lines)| lines.ends_with("}\n")));
}

#[tokio::test]
async fn more_users_than_the_parts_allowed_hold_fail_naming_the_parameter() {
    // 1000 parts of 2 users hold 2000 users; one more needs a 1001st part.
    let (ports, job_id) = small_parts_job(2001);
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ConfigurationInvalid);
    assert_eq!(
        err.to_string(),
        "the 2001 users to score need 1001 parts of ScoringPartUsers = 2 users, more than the 1000 \
         parts a job may have: raise the stack parameter ScoringPartUsers to at least 3"
    );
    assert_eq!(
        scoring_parts(&ports, &job_id).len(),
        1000,
        "no part past the last allowed"
    );
    assert!(ports.jobs.record(&job_id).unwrap().prepared.is_none());

    let (ports, job_id) = small_parts_job(2000);
    handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(
        scoring_parts(&ports, &job_id).len(),
        1000,
        "exactly the most parts"
    );
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
    assert!(scoring_parts(&ports, &job_id).is_empty(), "no part for nobody");
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
            scoring_parts(&ports, &job_id).is_empty(),
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
