//! Slack notifications: what a failure is (so the reader knows where to look first), the
//! messages (Block Kit JSON with a plain-text fallback), how to read Slack's answers (retry or
//! not), and when failures sharing a cause are folded into one summary instead of a flood.

use serde::{Deserialize, Serialize};
use serde_json::{json, Value};

use crate::errors::ErrorName;
use crate::job::{JobFailure, JobId, JobRecord};
use crate::validation::FormProblem;

/// Where the reader of a failure should look first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureClass {
    /// The form or its data: a missing file, a bad CSV, nobody in the segment.
    InputData,
    /// Training or scoring failed in the model's own code.
    ModelContainer,
    /// The platform: quota, AWS errors, timeouts, relaunches used up.
    Platform,
}

impl FailureClass {
    pub fn label(self) -> &'static str {
        match self {
            FailureClass::InputData => "input/data",
            FailureClass::ModelContainer => "model/container",
            FailureClass::Platform => "platform",
        }
    }

    fn advice(self) -> &'static str {
        match self {
            FailureClass::InputData => "Check the form and its data files (the cause names the file, column or segment).",
            FailureClass::ModelContainer => "Check the training or scoring code and its logs.",
            FailureClass::Platform => "Not the job's fault: quota, AWS or a timeout. Resubmitting later usually works; tell the recoflow team if it persists.",
        }
    }
}

/// Words of a container's failure reason that point at its input data, not its code.
const DATA_WORDS: [&str; 6] = [
    ".csv",
    "column",
    "header",
    "no s3 objects",
    "timestamp",
    "missing the following required columns",
];

/// Classifies a failure from its error name and cause.
pub fn classify(error: &str, cause: &str) -> FailureClass {
    match ErrorName::parse(error) {
        Some(
            ErrorName::DatasetMissing
            | ErrorName::DatasetInvalid
            | ErrorName::SegmentEmpty
            | ErrorName::ImportFailed
            | ErrorName::LaunchInvalid,
        ) => FailureClass::InputData,
        // A container that stopped on a bad CSV failed because of its data.
        Some(ErrorName::TrainingFailed | ErrorName::ScoringFailed) => {
            let cause = cause.to_ascii_lowercase();
            if DATA_WORDS.iter().any(|w| cause.contains(w)) {
                FailureClass::InputData
            } else {
                FailureClass::ModelContainer
            }
        }
        Some(ErrorName::ScoresInvalid) => FailureClass::ModelContainer,
        _ => FailureClass::Platform,
    }
}

/// Links a message carries.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Links {
    pub execution: Option<String>,
    pub job: Option<String>,
    pub logs: Option<String>,
}

/// The AWS console page of a Step Functions execution.
pub fn execution_console_url(region: &str, execution_arn: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/states/home?region={region}#/v2/executions/details/{execution_arn}")
}

/// The AWS console page of a Lambda function's log group.
pub fn logs_console_url(region: &str, function_name: &str) -> String {
    format!(
        "https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#logsV2:log-groups/log-group/$252Faws$252Flambda$252F{function_name}"
    )
}

/// Slack shows at most 3000 characters in a section's text.
const MAX_SECTION_CHARS: usize = 2_900;

fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let kept: String = text.chars().take(max.saturating_sub(1)).collect();
    format!("{kept}…")
}

/// Backticks would end a Slack code span early.
fn code_safe(text: &str) -> String {
    text.replace("```", "'''")
}

fn link_buttons(links: &Links) -> Option<Value> {
    let buttons: Vec<Value> = [
        ("Execution", &links.execution),
        ("Job (API)", &links.job),
        ("Logs", &links.logs),
    ]
    .into_iter()
    .filter_map(|(label, url)| {
        url.as_ref()
            .map(|url| json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}))
    })
    .collect();
    (!buttons.is_empty()).then(|| json!({"type": "actions", "elements": buttons}))
}

/// How long, for people: `3 min 20 s`.
pub fn human_duration(seconds: u64) -> String {
    match seconds {
        s if s < 60 => format!("{s} s"),
        s if s < 3600 => format!("{} min {} s", s / 60, s % 60),
        s => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

/// A failed job's message.
pub fn failure_message(record: &JobRecord, ran_seconds: u64, links: &Links) -> Value {
    let failure = record.failure.clone().unwrap_or_else(|| JobFailure {
        error: ErrorName::FailureNotRecorded.to_string(),
        cause: "no cause was recorded".into(),
        status: None,
        state: None,
    });
    let class = classify(&failure.error, &failure.cause);
    let name = record.job_name.as_deref().unwrap_or("(unnamed)");
    let form = record.form.as_ref();
    let submitter = form.map(|f| f.submitted_by.as_str()).unwrap_or("unknown");
    let backend = form
        .map(|f| {
            serde_json::to_value(f.backend)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let phase = match (failure.status, &failure.state) {
        (Some(status), Some(state)) => format!("{status} (state {state})"),
        (Some(status), None) => status.to_string(),
        (None, Some(state)) => format!("state {state}"),
        (None, None) => "unknown".to_owned(),
    };
    let text = format!(
        "recoflow job {name} ({}) FAILED in {phase}: {} [{}] {}",
        record.job_id,
        failure.error,
        class.label(),
        shorten(&failure.cause, 300)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": shorten(&format!(":x: Job {name} failed"), 150), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Job*\n`{}`", record.job_id)},
            {"type": "mrkdwn", "text": format!("*Submitted by*\n{submitter}")},
            {"type": "mrkdwn", "text": format!("*Backend*\n{backend}")},
            {"type": "mrkdwn", "text": format!("*Failed while*\n{phase}")},
            {"type": "mrkdwn", "text": format!("*Error*\n`{}`", failure.error)},
            {"type": "mrkdwn", "text": format!("*Look first at*\n{}", class.label())},
        ]}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Cause*\n```{}```", shorten(&code_safe(&failure.cause), MAX_SECTION_CHARS))}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("{} Ran {}.", class.advice(), human_duration(ran_seconds))}]}),
    ];
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

/// A form intake rejected: its problems as a short list, and where the report is.
pub fn rejection_message(
    job_id: &JobId,
    form_uri: &str,
    report_uri: &str,
    problems: &[FormProblem],
) -> Value {
    const SHOWN: usize = 10;
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|p| format!("• `{}` {}", p.path, shorten(&p.message, 200)))
        .collect();
    if problems.len() > SHOWN {
        lines.push(format!("…and {} more in the report", problems.len() - SHOWN));
    }
    let text = format!(
        "recoflow rejected the form {form_uri}: {} problem(s); report: {report_uri}",
        problems.len()
    );
    json!({"text": text, "blocks": [
        json!({"type": "header", "text": {"type": "plain_text", "text": ":no_entry: Form rejected", "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*{form_uri}* has {} problem(s); nothing was started.", problems.len())}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": shorten(&lines.join("\n"), MAX_SECTION_CHARS)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Job id `{job_id}` · full report: {report_uri} · fix the form and upload it again")}]}),
    ]})
}

/// A job that succeeded, for forms asking for it (`notify.on_success`).
pub fn success_message(record: &JobRecord, ran_seconds: u64, links: &Links) -> Value {
    let name = record.job_name.as_deref().unwrap_or("(unnamed)");
    let users = record.counts.get("users_delivered").copied().unwrap_or(0);
    let version = record
        .delivery
        .as_ref()
        .map(|d| d.version.as_str())
        .unwrap_or("?");
    let result_set = record.form.as_ref().map(|f| f.result_set.as_str()).unwrap_or("?");
    let text = format!(
        "recoflow job {name} ({}) SUCCEEDED: {users} users delivered to {result_set}, version {version}, in {}",
        record.job_id,
        human_duration(ran_seconds)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": shorten(&format!(":white_check_mark: Job {name} succeeded"), 150), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Job*\n`{}`", record.job_id)},
            {"type": "mrkdwn", "text": format!("*Result set*\n{result_set}")},
            {"type": "mrkdwn", "text": format!("*Users delivered*\n{users}")},
            {"type": "mrkdwn", "text": format!("*Version*\n`{version}`")},
            {"type": "mrkdwn", "text": format!("*Took*\n{}", human_duration(ran_seconds))},
        ]}),
    ];
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

/// One summary for failures folded together.
pub fn fold_summary_message(error: &str, cause: &str, job_ids: &[String], window_seconds: u32) -> Value {
    let class = classify(error, cause);
    let ids = job_ids
        .iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    let text = format!(
        "recoflow: {} more job(s) failed with {error} [{}] within {window_seconds} s: {}",
        job_ids.len(),
        class.label(),
        job_ids.join(", ")
    );
    json!({"text": text, "blocks": [
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":x: {} more jobs failed with {error}", job_ids.len()), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Same cause, folded into one message* ({}; look first at {})\n```{}```", error, class.label(), shorten(&code_safe(cause), 1_000))}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": shorten(&format!("*Jobs*: {ids}"), MAX_SECTION_CHARS)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "Each job's GET /jobs/{id} has its own cause and links."}]}),
    ]})
}

/// The cause with what differs from job to job (resource names, ids, numbers) blanked, so
/// failures of one cause share a signature.
pub fn fold_signature(error: &str, cause: &str) -> String {
    let mut normal = String::with_capacity(cause.len());
    for word in cause.split_whitespace().take(40) {
        let word: String = if word.starts_with("rf-")
            || word.contains("arn:")
            || word.starts_with("s3://") && word.contains("/jobs/")
        {
            "<name>".into()
        } else {
            word.chars()
                .map(|c| if c.is_ascii_digit() { '#' } else { c })
                .collect()
        };
        normal.push_str(&word);
        normal.push(' ');
    }
    let digest = crate::job::form_digest(format!("{error}\n{normal}").as_bytes());
    format!("{error}-{}", &digest[..16])
}

/// What to do with a failure, given how many of its signature were sent in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FoldDecision {
    /// Send it on its own.
    Send,
    /// Hold it for the window's summary, sent when the window closes.
    Fold,
}

/// What Slack's answer to a webhook post means.
#[derive(Debug, Clone, PartialEq)]
pub enum SlackAnswer {
    Delivered,
    /// Rate limited: try again after this many seconds (`Retry-After`).
    RetryAfter(u64),
    /// A server or network error: worth another try with backoff.
    Transient(String),
    /// An answer that will not change (bad payload, revoked webhook): do not retry.
    Permanent(String),
}

/// Reads a webhook answer: HTTP status, body and `Retry-After`.
pub fn read_answer(status: u16, body: &str, retry_after: Option<&str>) -> SlackAnswer {
    let body = body.trim();
    match status {
        200..=299 => SlackAnswer::Delivered,
        429 => SlackAnswer::RetryAfter(retry_after.and_then(|v| v.trim().parse().ok()).unwrap_or(1)),
        403 | 404 | 410 => SlackAnswer::Permanent(format!("HTTP {status}: {}", shorten(body, 200))),
        400 if matches!(
            body,
            "invalid_payload"
                | "no_service"
                | "channel_not_found"
                | "channel_is_archived"
                | "action_prohibited"
                | "no_text"
                | "posting_to_general_channel_denied"
                | "too_many_attachments"
                | "invalid_token"
        ) =>
        {
            SlackAnswer::Permanent(format!("HTTP 400: {body}"))
        }
        400..=499 => SlackAnswer::Permanent(format!("HTTP {status}: {}", shorten(body, 200))),
        _ => SlackAnswer::Transient(format!("HTTP {status}: {}", shorten(body, 200))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::test_form;
    use crate::job::{now_rfc3339, JobFailure, JobSource};

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
            serde_json::from_str(include_str!("../tests/fixtures/slack/failure.json")).unwrap();
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
            serde_json::from_str(include_str!("../tests/fixtures/slack/rejection.json")).unwrap();
        assert_eq!(
            message,
            fixture,
            "{}",
            serde_json::to_string_pretty(&message).unwrap()
        );
    }

    #[test]
    fn causes_differing_only_in_names_and_numbers_share_a_signature() {
        let a = fold_signature(
            "QuotaUnavailable",
            "waiting for quota in sagemaker-training:ml.m5.large: 2 of 2 units held by rf-a-1-train-1",
        );
        let b = fold_signature(
            "QuotaUnavailable",
            "waiting for quota in sagemaker-training:ml.m5.large: 3 of 2 units held by rf-b-9-train-2",
        );
        let c = fold_signature(
            "TrainingFailed",
            "waiting for quota in sagemaker-training:ml.m5.large: 3 of 2 units held by rf-b-9-train-2",
        );
        assert_eq!(a, b);
        assert_ne!(a, c);
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
}
