use serde_json::Value;

use super::*;
use crate::fakes::test_form;
use crate::job::{now_rfc3339, JobFailure, JobId, JobRecord, JobSource};
use crate::validation::FormProblem;

fn failed(error: &str, cause: &str, status: &str) -> JobRecord {
    let mut record = JobRecord::queued(
        JobId::parse("weekly-abc").unwrap(),
        JobSource::Api {
            idempotency_key: None,
        },
        test_form("container"),
        "d".into(),
        &now_rfc3339(),
    );
    record.failure = Some(JobFailure {
        error: error.into(),
        cause: cause.into(),
        status: status.parse().ok(),
        state: Some("RunPhases".into()),
    });
    record
}

#[test]
fn failures_are_classified_where_to_look_first() {
    assert_eq!(classify("DatasetMissing", "x"), FailureClass::InputData);
    assert_eq!(classify("SegmentEmpty", "x"), FailureClass::InputData);
    assert_eq!(
        classify("TrainingFailed", "rf-x: AlgorithmError: /opt/ml/input/data/interactions/i.csv:3 column TIMESTAMP: expected an integer"),
        FailureClass::InputData
    );
    assert_eq!(
        classify("TrainingFailed", "AlgorithmError: out of memory, exit code: 137"),
        FailureClass::ModelContainer
    );
    assert_eq!(classify("QuotaUnavailable", "x"), FailureClass::Platform);
    assert_eq!(classify("States.Timeout", "x"), FailureClass::Platform);
    assert_eq!(classify("Lambda.ServiceException", "x"), FailureClass::Platform);
}

#[test]
fn the_failure_message_matches_its_fixture() {
    let record = failed(
        "TrainingFailed",
        "rf-weekly-1-train-1: AlgorithmError: out of memory, exit code: 137",
        "TRAINING",
    );
    let links = Links {
        execution: Some(execution_console_url(
            "us-east-1",
            "arn:aws:states:us-east-1:1:execution:jobs:weekly-abc",
        )),
        job: Some("https://api.example.com/Prod/jobs/weekly-abc".into()),
        logs: Some(logs_console_url("us-east-1", "recoflow-RunnerFunction")),
    };
    let message = failure_message(&record, 200, &links);
    let fixture: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/slack/failure.json")).unwrap();
    assert_eq!(
        message,
        fixture,
        "{}",
        serde_json::to_string_pretty(&message).unwrap()
    );
}

#[test]
fn the_rejection_message_lists_problems_shortly() {
    let problems: Vec<FormProblem> = (0..12)
        .map(|i| FormProblem {
            path: format!("$.x{i}"),
            code: "wrong_type".into(),
            message: format!("problem {i}"),
        })
        .collect();
    let message = rejection_message(
        &JobId::parse("bad-1").unwrap(),
        "s3://forms/submissions/bad.json",
        "s3://forms/rejected/bad.json.errors.json",
        &problems,
    );
    let fixture: Value =
        serde_json::from_str(include_str!("../../tests/fixtures/slack/rejection.json")).unwrap();
    assert_eq!(
        message,
        fixture,
        "{}",
        serde_json::to_string_pretty(&message).unwrap()
    );
}

#[test]
fn slack_answers_say_whether_to_retry() {
    assert_eq!(read_answer(200, "ok", None), SlackAnswer::Delivered);
    assert_eq!(read_answer(429, "", Some("7")), SlackAnswer::RetryAfter(7));
    assert_eq!(read_answer(429, "", None), SlackAnswer::RetryAfter(1));
    assert!(matches!(
        read_answer(500, "oops", None),
        SlackAnswer::Transient(_)
    ));
    assert!(matches!(read_answer(503, "", None), SlackAnswer::Transient(_)));
    for (status, body) in [
        (400, "invalid_payload"),
        (404, "no_service"),
        (404, "channel_not_found"),
        (403, "action_prohibited"),
        (410, ""),
    ] {
        assert!(
            matches!(read_answer(status, body, None), SlackAnswer::Permanent(_)),
            "{status} {body}"
        );
    }
}

/// Every string a person reads in a message (the `text` fields, at any depth).
fn shown_texts(message: &Value, out: &mut Vec<String>) {
    match message {
        Value::Object(map) => {
            for (key, value) in map {
                match value {
                    Value::String(text) if key == "text" => out.push(text.clone()),
                    other => shown_texts(other, out),
                }
            }
        }
        Value::Array(items) => items.iter().for_each(|v| shown_texts(v, out)),
        _ => {}
    }
}

#[test]
fn outside_text_is_never_slack_markup_in_any_message() {
    let hostile = "<!channel> <https://evil.example|click> & <@U123>";
    let mut record = failed("TrainingFailed", hostile, "TRAINING");
    record.job_name = Some(hostile.into());
    if let Some(form) = record.form.as_mut() {
        form.submitted_by = hostile.into();
        form.result_set = hostile.into();
    }
    record.failure.as_mut().unwrap().state = Some(hostile.into());
    let problems = vec![FormProblem {
        path: format!("$.segment.{hostile}"),
        code: "unknown_field".into(),
        message: format!("\"{hostile}\" is not a field"),
    }];
    let links = Links {
        job: Some("https://api.example.com/Prod/jobs/weekly-abc".into()),
        ..Links::default()
    };
    let messages = [
        failure_message(&record, 5, &links),
        success_message(&record, 5, &links),
        rejection_message(
            &record.job_id,
            &format!("s3://forms/submissions/{hostile}.json"),
            "s3://forms/rejected/x",
            &problems,
        ),
        fold_summary_message(hostile, hostile, &[record.job_id.to_string()], 60),
    ];
    for message in &messages {
        let mut texts = Vec::new();
        shown_texts(message, &mut texts);
        assert!(texts.iter().any(|t| t.contains("&lt;!channel&gt;")), "{message}");
        for text in texts {
            assert!(
                !text.contains('<') && !text.contains('>'),
                "markup left in {text:?}"
            );
            assert!(
                !text
                    .replace("&amp;", "")
                    .replace("&lt;", "")
                    .replace("&gt;", "")
                    .contains('&'),
                "{text:?}"
            );
        }
    }
}

/// Real-looking causes (fixtures): each group is one cause as different jobs report it.
#[test]
fn causes_of_one_kind_share_a_signature_and_different_causes_never_do() {
    #[derive(serde::Deserialize)]
    struct Case {
        job_id: String,
        job_name: String,
        error: String,
        cause: String,
    }
    let groups: std::collections::BTreeMap<String, Vec<Case>> =
        serde_json::from_str(include_str!("../../tests/fixtures/fold/causes.json")).unwrap();
    let mut by_signature = std::collections::BTreeMap::new();
    for (group, cases) in &groups {
        assert!(
            cases.len() >= 2,
            "{group}: a group needs causes from two jobs at least"
        );
        let signatures: std::collections::BTreeSet<String> = cases
            .iter()
            .map(|case| {
                let mut record = failed(&case.error, &case.cause, "TRAINING");
                record.job_id = JobId::parse(&case.job_id).unwrap();
                record.job_name = Some(case.job_name.clone());
                job_fold_signature(&record, record.failure.as_ref().unwrap())
            })
            .collect();
        assert_eq!(
            signatures.len(),
            1,
            "{group}: one cause, several signatures {signatures:?}"
        );
        let signature = signatures.into_iter().next().unwrap();
        if let Some(other) = by_signature.insert(signature, group.clone()) {
            panic!("{group} and {other} are different causes with one signature");
        }
    }
    assert!(groups.len() >= 10, "the corpus covers the causes jobs fail with");
}
