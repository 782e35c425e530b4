//! `recoflow status JOB [--follow]`: the job's status, time in it, history, and the cause and
//! its class (where to look first) when it failed. Exit code by the job's outcome once it has
//! ended: 0 SUCCEEDED (or still running), 1 FAILED or CANCELLED, 3 REJECTED.

use clap::Args;
use recoflow_core::job::JobStatus;
use recoflow_core::notification::classify;
use serde_json::Value;
use time::OffsetDateTime;

use super::follow::{self, Start};
use crate::context::Context;
use crate::exit::{CliError, Exit};
use crate::output::{between, duration, field, parse_time, text, Report, Table};
use crate::routes::SHOW_JOB;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The job id (as `submit` and `jobs` print it)
    pub job: String,
    /// Follow the job until it ends: live progress on a terminal, one line per change otherwise
    #[arg(long)]
    pub follow: bool,
}

pub async fn run(args: StatusArgs, ctx: &Context) -> Result<Report, CliError> {
    if args.follow {
        let job = follow::follow(ctx, &args.job, Start::Exists).await?;
        return Ok(ended_report(job));
    }
    let job = fetch(ctx, &args.job).await?;
    let (exit, reason) = outcome(&job);
    Ok(Report {
        text: describe(&job, OffsetDateTime::now_utc()),
        json: job,
        exit,
        reason,
    })
}

pub async fn fetch(ctx: &Context, job_id: &str) -> Result<Value, CliError> {
    Ok(ctx.api().await?.send(SHOW_JOB.call(&[job_id])).await?.body)
}

/// The report of a job followed to its end: the last line says how it ended.
pub fn ended_report(job: Value) -> Report {
    let (exit, reason) = outcome(&job);
    Report {
        text: format!("{}\n", summary(&job)),
        json: job,
        exit,
        reason,
    }
}

/// Users whose lists are written: the version's count once published, before that what the
/// delivery's workers have reported as they finished their score files.
pub fn users_written(job: &Value) -> Option<u64> {
    let delivery = job.get("delivery").filter(|d| d.is_object())?;
    if delivery["published"] == true {
        return delivery.get("users_delivered").and_then(Value::as_u64);
    }
    job.get("counts")
        .and_then(|c| c.get("score_files_done_users"))
        .and_then(Value::as_u64)
        .or_else(|| delivery.get("users_delivered").and_then(Value::as_u64))
}

pub fn status_of(job: &Value) -> Option<JobStatus> {
    serde_json::from_value(job.get("status")?.clone()).ok()
}

/// Whether the job will change no more (a status this CLI does not know is taken as running).
pub fn has_ended(job: &Value) -> bool {
    status_of(job).is_some_and(JobStatus::is_terminal)
}

/// The exit code of a job's state, and the reason for stderr when it is not a success.
pub fn outcome(job: &Value) -> (Exit, Option<String>) {
    let id = field(job, "job_id");
    match status_of(job) {
        Some(JobStatus::Failed) => (Exit::JobFailed, Some(format!("job {id} {}", summary(job)))),
        Some(JobStatus::Cancelled) => (Exit::JobFailed, Some(format!("job {id} {}", summary(job)))),
        Some(JobStatus::Rejected) => (Exit::InvalidForm, Some(format!("job {id} {}", summary(job)))),
        Some(JobStatus::Held) => (Exit::JobFailed, Some(format!("job {id} {}", summary(job)))),
        _ => (Exit::Success, None),
    }
}

/// One line: `SUCCEEDED`, `FAILED: DatasetMissing (input/data): <cause>`, ...
pub fn summary(job: &Value) -> String {
    let status = field(job, "status");
    if let Some(failure) = job.get("failure").filter(|f| f.is_object()) {
        let (error, cause) = (field(failure, "error"), field(failure, "cause"));
        return format!(
            "{status}: {error} ({}): {cause}",
            classify(&error, &cause).label()
        );
    }
    if let Some(cancel) = job.get("cancellation").filter(|c| c.is_object()) {
        return format!("{status} by {} at {}", field(cancel, "by"), field(cancel, "at"));
    }
    if let Some(problems) = job
        .get("problems")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    {
        let codes: Vec<String> = problems.iter().map(|p| field(p, "code")).collect();
        return format!("{status}: {} problem(s): {}", problems.len(), codes.join(", "));
    }
    if status_of(job) == Some(JobStatus::Held) {
        return held_summary(job);
    }
    if status_of(job) != Some(JobStatus::Succeeded) {
        return status;
    }
    let history = job.get("history").and_then(Value::as_array);
    let took = history
        .and_then(|h| Some((h.first()?, h.last()?)))
        .and_then(|(first, last)| between(&field(first, "at"), parse_time(&field(last, "at"))?))
        .map(|d| format!(" in {}", duration(d)))
        .unwrap_or_default();
    let published = job.get("delivery").filter(|d| d.is_object()).map(|d| {
        format!(
            ": version {} published, {} user(s)",
            field(d, "version"),
            field(d, "users_delivered")
        )
    });
    format!("{status}{took}{}", published.unwrap_or_default())
}

/// `HELD: version V held back by the quality gate (rule metric value, bound B; ...)` and how to
/// serve it anyway.
fn held_summary(job: &Value) -> String {
    let failures: Vec<String> = job
        .get("gate")
        .and_then(|g| g.get("failures"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| {
            format!(
                "{} {} {}, bound {}",
                field(f, "rule"),
                field(f, "metric"),
                field(f, "value"),
                field(f, "bound")
            )
        })
        .collect();
    let version = job
        .get("delivery")
        .map(|d| field(d, "version"))
        .unwrap_or_else(|| "-".into());
    let result_set = job
        .get("form")
        .map(|f| field(f, "result_set"))
        .unwrap_or_else(|| "-".into());
    format!(
        "HELD: version {version} held back by the quality gate ({}); the current version keeps serving \
         (recoflow promote {result_set} {version} --reason TEXT serves it)",
        failures.join("; ")
    )
}

/// The job for a person: status and time in it, failure and its class, history, resources.
pub fn describe(job: &Value, now: OffsetDateTime) -> String {
    let mut out = String::new();
    let name = job
        .get("job_name")
        .and_then(Value::as_str)
        .map(|n| format!("  ({n})"))
        .unwrap_or_default();
    out.push_str(&format!("job       {}{name}\n", field(job, "job_id")));
    let since = field(job, "status_since");
    let time_in = between(&since, now)
        .map(|d| format!(" for {}", duration(d)))
        .unwrap_or_default();
    out.push_str(&format!(
        "status    {}{time_in} (since {since})\n",
        field(job, "status")
    ));
    if let Some(failure) = job.get("failure").filter(|f| f.is_object()) {
        let (error, cause) = (field(failure, "error"), field(failure, "cause"));
        out.push_str(&format!(
            "failure   {error} in {} (look first at: {})\ncause     {cause}\n",
            field(failure, "state"),
            classify(&error, &cause).label()
        ));
    }
    if let Some(wait) = job.get("quota_wait").filter(|w| w.is_object()) {
        out.push_str(&format!(
            "queue     place {} of {} waiting in {} ({} job(s) holding it)\n",
            field(wait, "position"),
            field(wait, "waiting"),
            field(wait, "pool"),
            field(wait, "holders")
        ));
    }
    if let Some(cancel) = job.get("cancellation").filter(|c| c.is_object()) {
        out.push_str(&format!(
            "cancelled by {} at {}\n",
            field(cancel, "by"),
            field(cancel, "at")
        ));
    }
    if let Some(delivery) = job.get("delivery").filter(|d| d.is_object()) {
        let state = if delivery["published"] == true {
            "published"
        } else {
            "being written"
        };
        out.push_str(&format!(
            "delivery  version {} {state}: {} user(s), {} line(s) skipped, {} segment(s)\n",
            field(delivery, "version"),
            users_written(job).unwrap_or(0),
            field(delivery, "lines_skipped"),
            field(delivery, "segments_published"),
        ));
    }
    if let Some(problems) = job
        .get("problems")
        .and_then(Value::as_array)
        .filter(|p| !p.is_empty())
    {
        out.push_str("problems\n");
        for p in problems {
            out.push_str(&format!(
                "  {} [{}] {}\n",
                field(p, "path"),
                field(p, "code"),
                field(p, "message")
            ));
        }
    }
    let history = job
        .get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !history.is_empty() {
        let start = field(&history[0], "at");
        let mut table = Table::new(&["  AT", "STATUS", "DETAIL"]);
        for change in &history {
            let at = crate::output::parse_time(&field(change, "at"));
            let offset = at
                .and_then(|at| between(&start, at))
                .map(duration)
                .unwrap_or_default();
            table.row(vec![
                format!("  +{offset}"),
                field(change, "status"),
                text(change, "detail").to_owned(),
            ]);
        }
        out.push_str("history\n");
        out.push_str(&table.render());
    }
    let resources = job
        .get("resources")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    if !resources.is_empty() {
        let mut table = Table::new(&["  NAME", "KIND", "PHASE", "ATTEMPT", "STATE", "REASON"]);
        for r in &resources {
            let reason = r.get("reason").and_then(Value::as_str).unwrap_or("");
            table.row(vec![
                format!("  {}", field(r, "name")),
                field(r, "kind"),
                field(r, "phase"),
                field(r, "attempt"),
                field(r, "state"),
                reason.to_owned(),
            ]);
        }
        out.push_str("resources\n");
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_held_job_says_which_rules_held_its_version_and_exits_1() {
        let held = json!({
            "job_id": "spring-h", "status": "HELD", "form": {"result_set": "spring"},
            "delivery": {"version": "v3", "published": false},
            "gate": {"passed": false, "failures": [
                {"rule": "max_change", "metric": "users_personalized", "value": 10.0, "bound": 0.2, "previous": 100.0}
            ]}
        });
        let (exit, reason) = outcome(&held);
        assert_eq!(exit, Exit::JobFailed);
        assert_eq!(
            reason.unwrap(),
            "job spring-h HELD: version v3 held back by the quality gate (max_change users_personalized 10.0, \
             bound 0.2); the current version keeps serving (recoflow promote spring v3 --reason TEXT serves it)"
        );
    }

    fn failed_job() -> Value {
        json!({
            "job_id": "spring-abc", "job_name": "spring", "status": "FAILED",
            "status_since": "2026-11-24T10:00:30Z",
            "history": [
                {"status": "QUEUED", "at": "2026-11-24T10:00:00Z", "detail": "submitted through the API"},
                {"status": "PREPARING", "at": "2026-11-24T10:00:02Z", "detail": ""},
                {"status": "FAILED", "at": "2026-11-24T10:00:30Z", "detail": "DatasetMissing"}
            ],
            "failure": {"error": "DatasetMissing", "cause": "s3://d/x.csv does not exist", "state": "PREPARING"},
            "resources": []
        })
    }

    #[test]
    fn a_failed_job_shows_its_cause_and_class() {
        let text = describe(&failed_job(), parse_time("2026-11-24T10:01:30Z").unwrap());
        assert!(text.contains("job       spring-abc  (spring)\n"), "{text}");
        assert!(
            text.contains("status    FAILED for 1m 00s (since 2026-11-24T10:00:30Z)"),
            "{text}"
        );
        assert!(
            text.contains("failure   DatasetMissing in PREPARING (look first at: input/data)"),
            "{text}"
        );
        assert!(text.contains("cause     s3://d/x.csv does not exist"), "{text}");
        assert!(text.contains("\n  +2s   PREPARING\n"), "{text}");
        assert!(text.contains("\n  +30s  FAILED     DatasetMissing\n"), "{text}");
    }

    #[test]
    fn a_waiting_job_shows_its_place_in_the_queue() {
        let waiting = json!({
            "job_id": "spring-w", "status": "WAITING_FOR_QUOTA", "status_since": "2026-11-24T10:00:00Z",
            "quota_wait": {"pool": "sagemaker-training:ml.m5.large", "position": 3, "holders": 2, "waiting": 5}
        });
        let text = describe(&waiting, parse_time("2026-11-24T10:05:00Z").unwrap());
        assert!(
            text.contains(
                "queue     place 3 of 5 waiting in sagemaker-training:ml.m5.large (2 job(s) holding it)\n"
            ),
            "{text}"
        );
        assert!(!describe(&failed_job(), parse_time("2026-11-24T10:05:00Z").unwrap()).contains("queue"));
    }

    #[test]
    fn users_written_come_from_the_workers_until_the_version_is_published() {
        let delivering = json!({"status": "DELIVERING",
            "delivery": {"version": "v1", "published": false, "users_delivered": 0},
            "counts": {"score_files_done": 2, "score_files_done_users": 100000}});
        assert_eq!(users_written(&delivering), Some(100_000));
        let published = json!({"delivery": {"published": true, "users_delivered": 200000},
            "counts": {"score_files_done_users": 150000}});
        assert_eq!(users_written(&published), Some(200_000));
        assert_eq!(users_written(&json!({"status": "SCORING"})), None);
    }

    #[test]
    fn outcomes_follow_the_exit_codes() {
        let (exit, reason) = outcome(&failed_job());
        assert_eq!(exit, Exit::JobFailed);
        assert_eq!(
            reason.unwrap(),
            "job spring-abc FAILED: DatasetMissing (input/data): s3://d/x.csv does not exist"
        );
        let cancelled =
            json!({"job_id": "j", "status": "CANCELLED", "cancellation": {"by": "ana", "at": "t"}});
        assert_eq!(outcome(&cancelled).0, Exit::JobFailed);
        assert_eq!(summary(&cancelled), "CANCELLED by ana at t");
        let rejected = json!({"job_id": "j", "status": "REJECTED", "problems": [{"path": "$", "code": "not_json", "message": "m"}]});
        assert_eq!(
            outcome(&rejected),
            (
                Exit::InvalidForm,
                Some("job j REJECTED: 1 problem(s): not_json".into())
            )
        );
        assert_eq!(outcome(&json!({"status": "SUCCEEDED"})), (Exit::Success, None));
        let succeeded = json!({"status": "SUCCEEDED",
            "history": [{"status": "RECEIVED", "at": "2026-11-24T10:00:00Z"}, {"status": "SUCCEEDED", "at": "2026-11-24T10:00:42Z"}],
            "delivery": {"version": "v1", "published": true, "users_delivered": 120}});
        assert_eq!(
            summary(&succeeded),
            "SUCCEEDED in 42s: version v1 published, 120 user(s)"
        );
        assert_eq!(outcome(&json!({"status": "TRAINING"})), (Exit::Success, None));
    }

    #[test]
    fn only_final_statuses_end_a_follow() {
        for (status, ended) in [
            ("SUCCEEDED", true),
            ("FAILED", true),
            ("CANCELLED", true),
            ("REJECTED", true),
            ("TRAINING", false),
            ("SOMETHING_NEW", false),
        ] {
            assert_eq!(has_ended(&json!({ "status": status })), ended, "{status}");
        }
    }
}
