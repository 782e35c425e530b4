use serde_json::Value;

use super::*;
use crate::fakes::test_form;
use crate::job::JobStatus;
use crate::job::{now_rfc3339, JobFailure, JobId, JobRecord, JobSource};
use crate::quality::{GateFailure, Metric};
use crate::validation::FormProblem;
use crate::versions::LastJob;

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
        held_message(
            &record,
            hostile,
            &[held_rule("max_change", None)],
            &ResultSetLinks::default(),
        ),
        stale_message(
            &Staleness {
                result_set: hostile,
                current_version: hostile,
                age_seconds: 7200,
                expected_seconds: 3600,
                last_job: None,
            },
            None,
        ),
        audience_message(&record, 5, &links, &audiences(hostile), &downloads()),
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

fn held_rule(rule: &str, chart_url: Option<&str>) -> HeldRule {
    HeldRule {
        failure: GateFailure {
            rule: rule.into(),
            metric: Metric::UsersPersonalized,
            value: 100.0,
            bound: 0.2,
            previous: Some(1000.0),
        },
        chart_url: chart_url.map(str::to_owned),
    }
}

#[test]
fn the_held_message_names_each_rule_with_its_chart_and_the_buttons() {
    let mut record = failed("x", "y", "DELIVERING");
    record.failure = None;
    let api = "https://api.example.com/Prod";
    let result_set = record.form.as_ref().unwrap().result_set.clone();
    let links = ResultSetLinks {
        page: Some(result_set_page_url(api, &result_set)),
        promote: Some(promote_page_url(api, &result_set, "20261201T000000Z-0a1b2c3d")),
        job: Some(format!("{api}/jobs/weekly-abc")),
    };
    let mut anomaly = held_rule("anomaly", None);
    anomaly.failure.metric = Metric::CatalogCoverage;
    anomaly.failure.value = 0.1;
    anomaly.failure.bound = 0.27;
    anomaly.failure.previous = Some(0.3);
    let rules = [
        held_rule("max_change", Some("https://results.s3.fake/charts/x.png?sig")),
        anomaly,
    ];
    let message = held_message(&record, "20261201T000000Z-0a1b2c3d", &rules, &links);
    let text = message["text"].as_str().unwrap();
    assert!(
        text.contains("users_personalized 100 failed max_change (bound 0.2)")
            && text.contains("catalog_coverage 0.1 failed anomaly (bound 0.27)")
            && text.contains(&result_set),
        "{text}"
    );
    let blocks = message["blocks"].as_array().unwrap();
    let sections: Vec<&str> = blocks.iter().filter_map(|b| b["text"]["text"].as_str()).collect();
    assert!(
        sections
            .iter()
            .any(|t| t.contains("*users_personalized* is 100, against 1000")
                && t.contains("over the 20 % allowed")),
        "{sections:?}"
    );
    assert!(
        sections.iter().any(|t| t.contains("edge 0.27, median 0.3")),
        "{sections:?}"
    );
    let images: Vec<&Value> = blocks.iter().filter(|b| b["type"] == "image").collect();
    assert_eq!(images.len(), 1, "a chart only where one was drawn");
    assert_eq!(images[0]["image_url"], "https://results.s3.fake/charts/x.png?sig");
    assert!(images[0]["alt_text"]
        .as_str()
        .unwrap()
        .starts_with("users_personalized over"));
    let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
    let urls: Vec<&str> = actions["elements"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["url"].as_str().unwrap())
        .collect();
    assert_eq!(
        urls,
        [
            format!("{api}/ui/result-sets?result_set={result_set}"),
            format!("{api}/ui/result-sets?result_set={result_set}&promote=20261201T000000Z-0a1b2c3d"),
            format!("{api}/jobs/weekly-abc"),
        ]
    );
}

#[test]
fn the_stale_message_says_how_old_against_what_and_the_last_job() {
    let last_job = LastJob {
        job_id: JobId::parse("weekly-9").unwrap(),
        status: JobStatus::Failed,
    };
    let stale = Staleness {
        result_set: "spring-2026",
        current_version: "20261201T000000Z-0a1b2c3d",
        age_seconds: 2 * 86_400 + 3_600,
        expected_seconds: 86_400,
        last_job: Some(&last_job),
    };
    let message = stale_message(
        &stale,
        Some("https://w/ui/result-sets?result_set=spring-2026".into()),
    );
    let text = message["text"].as_str().unwrap();
    assert!(
        text.contains("spring-2026 is stale")
            && text.contains("20261201T000000Z-0a1b2c3d is 49 h 0 min old")
            && text.contains("every 24 h 0 min")
            && text.contains("`weekly-9` FAILED"),
        "{text}"
    );
    assert_eq!(
        message["blocks"][3]["elements"][0]["url"],
        "https://w/ui/result-sets?result_set=spring-2026"
    );
    let without_link = stale_message(&stale, None);
    assert!(without_link["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|b| b["type"] != "actions"));
}

fn audiences(text: &str) -> crate::outputs::audience::AudienceManifest {
    use crate::outputs::audience::{AudienceEntry, AudienceManifest, ValueCount};
    let entry = |item: Option<&str>, size: u64| AudienceEntry {
        item: item.map(str::to_owned),
        item_filter: item
            .is_none()
            .then(|| [(text.to_owned(), vec![text.to_owned()])].into()),
        csv: "audiences/rs/v/0000.csv".into(),
        size,
        breakdown: [(
            "PREFECTURE".to_owned(),
            ["東京都", text, "大阪府", "北海道"]
                .iter()
                .enumerate()
                .map(|(i, v)| ValueCount {
                    value: (*v).into(),
                    users: 40 - i as u64,
                })
                .collect(),
        )]
        .into(),
        error: None,
    };
    AudienceManifest {
        result_set: text.into(),
        version: "20261201T000000Z-0000000a".into(),
        job_id: JobId::parse("weekly-abc").unwrap(),
        created_at: "2026-12-01T00:00:00.000Z".into(),
        columns: vec!["PREFECTURE".into()],
        size: Some(100),
        min_score: None,
        audiences: vec![entry(Some(text), 154), entry(None, 12)],
    }
}

fn downloads() -> AudienceDownloads {
    AudienceDownloads {
        urls: vec![
            Some("https://results.s3.amazonaws.com/audiences/rs/v/0000.csv?X-Amz-Signature=ab&X-Amz-Expires=604800".into()),
            None,
        ],
        expiry: Some(LinkExpiry {
            at: "2026-12-08T00:00:00Z".into(),
            in_seconds: 7 * 86_400,
        }),
    }
}

#[test]
fn an_audience_message_has_its_size_a_breakdown_a_download_link_and_its_expiry() {
    let record = failed("x", "y", "SCORING");
    let message = audience_message(&record, 65, &Links::default(), &audiences("i042"), &downloads());
    let shown = message.to_string();
    assert!(shown.contains("166 users in 2 audience(s)"), "{shown}");
    assert!(shown.contains("*154* users for item `i042`"), "{shown}");
    assert!(
        shown.contains("PREFECTURE   東京都 40, i042 39, 大阪府 38, +1 more"),
        "{shown}"
    );
    let actions: Vec<&Value> = message["blocks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|b| b["type"] == "actions")
        .collect();
    assert_eq!(actions.len(), 1, "one CSV could be linked: one button");
    assert_eq!(
        actions[0]["elements"][0]["url"],
        "https://results.s3.amazonaws.com/audiences/rs/v/0000.csv?X-Amz-Signature=ab&X-Amz-Expires=604800",
        "a button's URL is used as it is"
    );
    assert!(
        shown.contains("Download links work until 2026-12-08T00:00:00Z (in 168 h 0 min)"),
        "{shown}"
    );
    let by_session = AudienceDownloads {
        expiry: None,
        ..downloads()
    };
    let shown = audience_message(&record, 65, &Links::default(), &audiences("i042"), &by_session).to_string();
    assert!(
        shown.contains("Download links work for a few hours") && !shown.contains("work until"),
        "links signed by a session promise no date: {shown}"
    );
}
