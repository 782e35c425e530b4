//! The Slack messages: Block Kit JSON with a plain-text fallback (`text`), one builder per kind.
//! Every piece of text that is not recoflow's own (names, causes, problems, paths) goes through
//! `markup::escape`, in `text` and in blocks alike.

use serde_json::{json, Value};

use super::classify::classify;
use super::markup::{code, escape, escape_short, fit, human_duration, number, MAX_SECTION_CHARS};
use crate::errors::ErrorName;
use crate::job::{JobFailure, JobId, JobRecord};
use crate::outputs::audience::AudienceManifest;
use crate::quality::GateFailure;
use crate::validation::FormProblem;
use crate::versions::LastJob;

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

/// Buttons to recoflow's own links (URLs it built; a button's URL is not markup).
pub(super) fn link_buttons(links: &Links) -> Option<Value> {
    buttons(&[
        ("Execution", &links.execution),
        ("Job (API)", &links.job),
        ("Logs", &links.logs),
    ])
}

/// An actions block of the labelled links that exist; `None` when none does.
fn buttons(links: &[(&str, &Option<String>)]) -> Option<Value> {
    let buttons: Vec<Value> = links
        .iter()
        .filter_map(|(label, url)| {
            url.as_ref().map(
                |url| json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}),
            )
        })
        .collect();
    (!buttons.is_empty()).then(|| json!({"type": "actions", "elements": buttons}))
}

/// Links of a message about a result set: its view on the web page, the promote view of a
/// held version, and the job in the API.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ResultSetLinks {
    pub page: Option<String>,
    pub promote: Option<String>,
    pub job: Option<String>,
}

/// The web page's view of a result set (`<WebPageUrl>ui/result-sets?result_set=<rs>`), from
/// the API's base URL (`<WebPageUrl>` without its last slash). Result-set names are slugs:
/// nothing to encode.
pub fn result_set_page_url(api_url: &str, result_set: &str) -> String {
    format!(
        "{}/ui/result-sets?result_set={result_set}",
        api_url.trim_end_matches('/')
    )
}

/// The same view, opened on promoting `version`.
pub fn promote_page_url(api_url: &str, result_set: &str, version: &str) -> String {
    format!("{}&promote={version}", result_set_page_url(api_url, result_set))
}

/// A rule a held version failed, and the chart of its metric when one could be drawn.
#[derive(Debug, Clone, PartialEq)]
pub struct HeldRule {
    pub failure: GateFailure,
    pub chart_url: Option<String>,
}

/// What a failed rule says, for people: the value, the bound and the value before.
fn failed_rule_text(failure: &GateFailure) -> String {
    let (metric, value, bound) = (failure.metric, number(failure.value), number(failure.bound));
    let previous = failure.previous.map(number);
    let previous = previous.as_deref().unwrap_or("none");
    let percent = |share: f64| format!("{} %", number(share * 100.0));
    match failure.rule.as_str() {
        "min" => format!("*{metric}* is {value}, below the minimum {bound} (previous {previous})"),
        "max" => format!("*{metric}* is {value}, above the maximum {bound} (previous {previous})"),
        "max_change" => format!(
            "*{metric}* is {value}, against {previous} in the current version: a change over the {} allowed",
            percent(failure.bound)
        ),
        "max_drop" => format!(
            "*{metric}* is {value}, against {previous} in the current version: a drop over the {} allowed",
            percent(failure.bound)
        ),
        "anomaly" => format!(
            "*{metric}* is {value}, outside its usual range (edge {bound}, median {previous} of the last versions)"
        ),
        "never_banned" => format!("*{metric}* is {value}: banned items are served (it must be {bound})"),
        rule => format!("*{metric}* is {value}, bound {bound} (rule {}, previous {previous})", escape(rule)),
    }
}

/// A version the quality gate held back: each failed rule with its chart, and the buttons to
/// the result set's page and to promote the version anyway.
pub fn held_message(record: &JobRecord, version: &str, rules: &[HeldRule], links: &ResultSetLinks) -> Value {
    let (name, _) = job_names(record);
    let result_set = escape(record.form.as_ref().map(|f| f.result_set.as_str()).unwrap_or("?"));
    let version = escape(version);
    let summary: Vec<String> = rules
        .iter()
        .map(|r| {
            format!(
                "{} {} failed {} (bound {})",
                r.failure.metric,
                number(r.failure.value),
                escape(&r.failure.rule),
                number(r.failure.bound)
            )
        })
        .collect();
    let text = format!(
        "recoflow held version {version} of {result_set} (job {name}, {}): {}. The current version keeps serving.",
        record.job_id,
        summary.join("; ")
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":pause_button: Version of {result_set} held"), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Result set*\n{result_set}")},
            {"type": "mrkdwn", "text": format!("*Held version*\n`{version}`")},
            {"type": "mrkdwn", "text": format!("*Job*\n{name} (`{}`)", record.job_id)},
            {"type": "mrkdwn", "text": format!("*Failed rules*\n{}", rules.len())},
        ]}),
    ];
    for rule in rules {
        blocks.push(json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("• `{}`: {}", escape(&rule.failure.rule), failed_rule_text(&rule.failure))}}));
        if let Some(url) = &rule.chart_url {
            let alt = format!(
                "{} over the last versions of {result_set}, the held value in red",
                rule.failure.metric
            );
            blocks.push(json!({"type": "image", "image_url": url, "alt_text": alt,
                "title": {"type": "plain_text", "text": rule.failure.metric.to_string()}}));
        }
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "The current version keeps serving. Promote this one if it is right after all, or discard it."}]}));
    blocks.extend(buttons(&[
        ("Result set", &links.page),
        ("Promote…", &links.promote),
        ("Job (API)", &links.job),
    ]));
    json!({"text": text, "blocks": blocks})
}

/// A result set whose current version is older than its form expects.
#[derive(Debug, Clone, PartialEq)]
pub struct Staleness<'a> {
    pub result_set: &'a str,
    pub current_version: &'a str,
    pub age_seconds: u64,
    /// The form's `expect_refresh_hours`, in seconds (hours are seconds on the local stack).
    pub expected_seconds: u64,
    pub last_job: Option<&'a LastJob>,
}

/// The freshness alert: sent once per current version.
pub fn stale_message(stale: &Staleness, page: Option<String>) -> Value {
    let result_set = escape(stale.result_set);
    let version = escape(stale.current_version);
    let (age, expected) = (
        human_duration(stale.age_seconds),
        human_duration(stale.expected_seconds),
    );
    let last_job = stale.last_job.map_or_else(
        || "none recorded".to_owned(),
        |job| format!("`{}` {}", job.job_id, job.status),
    );
    let text = format!(
        "recoflow: {result_set} is stale: its current version {version} is {age} old, a refresh was expected every {expected}. Last job: {last_job}."
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":hourglass: {result_set} is stale"), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Result set*\n{result_set}")},
            {"type": "mrkdwn", "text": format!("*Current version*\n`{version}`")},
            {"type": "mrkdwn", "text": format!("*Age*\n{age}")},
            {"type": "mrkdwn", "text": format!("*Expected refresh*\nevery {expected}")},
            {"type": "mrkdwn", "text": format!("*Last job*\n{last_job}")},
        ]}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "Sent once: the next alert comes only after a newer version is published and goes stale in turn."}]}),
    ];
    blocks.extend(buttons(&[("Result set", &page)]));
    json!({"text": text, "blocks": blocks})
}

/// The job's name and who submitted it, escaped.
fn job_names(record: &JobRecord) -> (String, String) {
    let name = escape_short(record.job_name.as_deref().unwrap_or("(unnamed)"), 100);
    let submitter = escape_short(
        record
            .form
            .as_ref()
            .map(|f| f.submitted_by.as_str())
            .unwrap_or("unknown"),
        254,
    );
    (name, submitter)
}

/// Where the job was when it failed: its status and the state-machine state.
fn failed_while(failure: &JobFailure) -> String {
    match (failure.status, &failure.state) {
        (Some(status), Some(state)) => format!("{status} (state {})", escape(state)),
        (Some(status), None) => status.to_string(),
        (None, Some(state)) => format!("state {}", escape(state)),
        (None, None) => "unknown".to_owned(),
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
    let (name, submitter) = job_names(record);
    let backend = record
        .form
        .as_ref()
        .and_then(|f| serde_json::to_value(f.backend).ok())
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default();
    let phase = failed_while(&failure);
    let error = escape(&failure.error);
    let text = format!(
        "recoflow job {name} ({}) FAILED in {phase}: {error} [{}] {}",
        record.job_id,
        class.label(),
        escape_short(&failure.cause, 300)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":x: Job {name} failed"), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Job*\n`{}`", record.job_id)},
            {"type": "mrkdwn", "text": format!("*Submitted by*\n{submitter}")},
            {"type": "mrkdwn", "text": format!("*Backend*\n{backend}")},
            {"type": "mrkdwn", "text": format!("*Failed while*\n{phase}")},
            {"type": "mrkdwn", "text": format!("*Error*\n`{error}`")},
            {"type": "mrkdwn", "text": format!("*Look first at*\n{}", class.label())},
        ]}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Cause*\n```{}```", code(&failure.cause, MAX_SECTION_CHARS))}}),
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
    let (form_uri, report_uri) = (escape(form_uri), escape(report_uri));
    let mut lines: Vec<String> = problems
        .iter()
        .take(SHOWN)
        .map(|p| {
            format!(
                "• `{}` {}",
                escape_short(&p.path, 200),
                escape_short(&p.message, 200)
            )
        })
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
        json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(&lines.join("\n"), MAX_SECTION_CHARS)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Job id `{job_id}` · full report: {report_uri} · fix the form and upload it again")}]}),
    ]})
}

/// A job that succeeded, for forms asking for it (`notify.on_success`).
pub fn success_message(record: &JobRecord, ran_seconds: u64, links: &Links) -> Value {
    let (name, _) = job_names(record);
    let users = record.counts.get("users_delivered").copied().unwrap_or(0);
    let version = escape(
        record
            .delivery
            .as_ref()
            .map(|d| d.version.as_str())
            .unwrap_or("?"),
    );
    let result_set = escape(record.form.as_ref().map(|f| f.result_set.as_str()).unwrap_or("?"));
    let text = format!(
        "recoflow job {name} ({}) SUCCEEDED: {users} users delivered to {result_set}, version {version}, in {}",
        record.job_id,
        human_duration(ran_seconds)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":white_check_mark: Job {name} succeeded"), "emoji": true}}),
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

/// Audiences shown in a message, at most; the rest are counted.
const AUDIENCES_SHOWN: usize = 10;
/// Values per column in a message's breakdown table.
const BREAKDOWN_VALUES_SHOWN: usize = 3;

/// What an audience's success message links: each audience's CSV (a presigned URL, `None`
/// when one could not be made) and when the links stop working.
#[derive(Debug, Clone, PartialEq)]
pub struct AudienceDownloads {
    pub urls: Vec<Option<String>>,
    /// `None`: when the temporary credentials that signed them expire, which the signer is not
    /// told (a Lambda role's session: hours).
    pub expiry: Option<LinkExpiry>,
}

/// When links stop working: RFC 3339, and how long that is from now, for people.
#[derive(Debug, Clone, PartialEq)]
pub struct LinkExpiry {
    pub at: String,
    pub in_seconds: u64,
}

/// A job that made audiences, for forms asking for it (`notify.on_success`): their size, a
/// small table of users by segment column per audience, a download link of each CSV and when
/// the links expire.
pub fn audience_message(
    record: &JobRecord,
    ran_seconds: u64,
    links: &Links,
    manifest: &AudienceManifest,
    downloads: &AudienceDownloads,
) -> Value {
    let (name, _) = job_names(record);
    let result_set = escape(&manifest.result_set);
    let version = escape(&manifest.version);
    let total = manifest.users();
    let mut text = format!(
        "recoflow job {name} ({}) SUCCEEDED: {total} users in {} audience(s) of {result_set}, version {version}, in {}",
        record.job_id,
        manifest.audiences.len(),
        human_duration(ran_seconds)
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":busts_in_silhouette: Audience ready: {name}"), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Result set*\n{result_set}")},
            {"type": "mrkdwn", "text": format!("*Users*\n{total}")},
            {"type": "mrkdwn", "text": format!("*Version*\n`{version}`")},
            {"type": "mrkdwn", "text": format!("*Took*\n{}", human_duration(ran_seconds))},
        ]}),
    ];
    let mut download_buttons = Vec::new();
    for (audience, url) in manifest
        .audiences
        .iter()
        .zip(&downloads.urls)
        .take(AUDIENCES_SHOWN)
    {
        let whom = match (&audience.item, &audience.item_filter) {
            (Some(item), _) => format!("item `{}`", code(item, 100)),
            (None, Some(filter)) => format!("items with {}", escape_short(&filter_text(filter), 300)),
            (None, None) => "the audience".to_owned(),
        };
        let mut section = format!("*{}* users for {whom}", audience.size);
        if let Some(error) = &audience.error {
            section.push_str(&format!(" ({})", escape_short(error, 300)));
        }
        let table = breakdown_table(audience);
        if !table.is_empty() {
            section.push_str(&format!("\n```{table}```"));
        }
        blocks.push(
            json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(&section, MAX_SECTION_CHARS)}}),
        );
        if let Some(url) = url {
            let label = match &audience.item {
                Some(item) => format!("CSV: {}", escape_short(item, 60)),
                None => "CSV".to_owned(),
            };
            text.push_str(&format!("\n{label}: {}", escape(url)));
            download_buttons
                .push(json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}));
        }
    }
    if manifest.audiences.len() > AUDIENCES_SHOWN {
        let more = manifest.audiences.len() - AUDIENCES_SHOWN;
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("…and {more} more audience(s): GET /audiences/{result_set}")}]}));
    }
    if !download_buttons.is_empty() {
        blocks.push(json!({"type": "actions", "elements": download_buttons}));
        let expiry = match &downloads.expiry {
            Some(expiry) => format!(
                "Download links work until {} (in {}).",
                escape(&expiry.at),
                human_duration(expiry.in_seconds)
            ),
            None => "Download links work for a few hours (the function's temporary credentials signed them)."
                .to_owned(),
        };
        blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": expiry.clone()}]}));
        text.push_str(&format!("\n{expiry}"));
    }
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

/// `CATEGORY = coat or jacket; COLOR = red`.
fn filter_text(filter: &std::collections::BTreeMap<String, Vec<String>>) -> String {
    let parts: Vec<String> = filter
        .iter()
        .map(|(column, values)| format!("{column} = {}", values.join(" or ")))
        .collect();
    parts.join("; ")
}

/// The audience's users by value of each column, the most common first (code-block text).
fn breakdown_table(audience: &crate::outputs::audience::AudienceEntry) -> String {
    let mut lines = Vec::new();
    for (column, values) in &audience.breakdown {
        let shown: Vec<String> = values
            .iter()
            .take(BREAKDOWN_VALUES_SHOWN)
            .map(|v| format!("{} {}", code(&v.value, 40), v.users))
            .collect();
        let more = values.len().saturating_sub(BREAKDOWN_VALUES_SHOWN);
        let more = if more > 0 {
            format!(", +{more} more")
        } else {
            String::new()
        };
        lines.push(format!("{:<12} {}{more}", code(column, 40), shown.join(", ")));
    }
    lines.join("\n")
}

/// One summary for failures folded together.
pub fn fold_summary_message(error: &str, cause: &str, job_ids: &[String], window_seconds: u32) -> Value {
    let class = classify(error, cause);
    let error = escape(error);
    let ids: Vec<String> = job_ids.iter().map(|id| escape(id)).collect();
    let text = format!(
        "recoflow: {} more job(s) failed with {error} [{}] within {window_seconds} s: {}",
        job_ids.len(),
        class.label(),
        ids.join(", ")
    );
    let listed = ids
        .iter()
        .map(|id| format!("`{id}`"))
        .collect::<Vec<_>>()
        .join(", ");
    json!({"text": text, "blocks": [
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":x: {} more jobs failed with {error}", job_ids.len()), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Same cause, folded into one message* ({error}; look first at {})\n```{}```", class.label(), code(cause, 1_000))}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": fit(&format!("*Jobs*: {listed}"), MAX_SECTION_CHARS)}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "Each job's GET /jobs/{id} has its own cause and links."}]}),
    ]})
}
