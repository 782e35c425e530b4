//! `recoflow versions RESULT_SET [--limit N] [--next VERSION]`: the version a result set
//! serves, how old it is, and its versions newest first with their state, gate and who
//! promoted them (`GET /result-sets/{result_set}`).

use clap::Args;
use serde_json::Value;

use super::paging::PageArgs;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{age, field, Report, Table};
use crate::routes::SHOW_RESULT_SET;

#[derive(Debug, Args)]
pub struct VersionsArgs {
    pub result_set: String,
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: VersionsArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = args.page.query(SHOW_RESULT_SET.call(&[&args.result_set]));
    let answer = ctx.api().await?.send(call).await?.body;
    let mut text = render(&answer);
    text.extend(
        args.page
            .more(&format!("recoflow versions {}", args.result_set), &answer),
    );
    Ok(Report::ok(text, answer))
}

/// A metric's value as a cell: whole numbers as they are, others to three decimals.
fn metric(version: &Value, name: &str) -> String {
    match version.get("metrics").and_then(|m| m.get(name)) {
        Some(Value::Number(n)) if n.is_u64() || n.is_i64() => n.to_string(),
        Some(Value::Number(n)) => format!("{:.3}", n.as_f64().unwrap_or_default()),
        _ => "-".to_owned(),
    }
}

fn gate(version: &Value) -> String {
    let Some(gate) = version.get("gate").filter(|g| g.is_object()) else {
        return "-".to_owned();
    };
    if gate["passed"] == true {
        return "passed".to_owned();
    }
    let rules: Vec<String> = gate
        .get("failures")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|f| format!("{} {}", field(f, "rule"), field(f, "metric")))
        .collect();
    format!("failed: {}", rules.join(", "))
}

fn render(answer: &Value) -> String {
    let serving = match answer.get("current_version").and_then(Value::as_str) {
        Some(current) => {
            let replaced = answer
                .get("previous_version")
                .and_then(Value::as_str)
                .map(|p| format!(", replaced {p}"))
                .unwrap_or_default();
            format!("serving {current} for {}{replaced}", age(answer))
        }
        None => "serving no version".to_owned(),
    };
    let last_job = answer
        .get("last_job")
        .filter(|j| j.is_object())
        .map(|j| format!("; last job {} {}", field(j, "job_id"), field(j, "status")))
        .unwrap_or_default();
    let mut out = format!("result set {} {serving}{last_job}\n", field(answer, "result_set"));
    if let Some(answers) = answer.get("answers_last_hour").filter(|a| a.is_object()) {
        let shares: Vec<String> = ["personalized", "segment", "global"]
            .iter()
            .map(|s| {
                let share = answers["sources"][s]["share"].as_f64().unwrap_or_default();
                format!("{s} {:.0} %", share * 100.0)
            })
            .collect();
        out.push_str(&format!(
            "answers in the last hour: {} ({})\n",
            field(answers, "total"),
            shares.join(", ")
        ));
    }
    let mut table = Table::new(&[
        "VERSION",
        "STATE",
        "JOB",
        "PUBLISHED",
        "GATE",
        "USERS",
        "COVERAGE",
        "PROMOTED BY",
        "REASON",
    ]);
    for version in answer
        .get("versions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        table.row(vec![
            field(version, "version"),
            field(version, "state"),
            field(version, "job_id"),
            field(version, "published_at"),
            gate(version),
            metric(version, "users_personalized"),
            metric(version, "catalog_coverage"),
            field(version, "promoted_by"),
            field(version, "reason"),
        ]);
    }
    if table.is_empty() {
        out.push_str("no versions\n");
    } else {
        out.push_str(&table.render());
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn versions_are_a_table_under_what_serves() {
        let answer = json!({
            "result_set": "spring", "current_version": "v2", "previous_version": "v1", "version_age_seconds": 95,
            "last_job": {"job_id": "j-3", "status": "HELD"},
            "answers_last_hour": {"window_seconds": 3600, "total": 10.0, "sources": {
                "personalized": {"answers": 9.0, "share": 0.9}, "segment": {"answers": 1.0, "share": 0.1},
                "global": {"answers": 0.0, "share": 0.0}}},
            "versions": [
                {"version": "v3", "state": "HELD", "job_id": "j-3", "published_at": null,
                 "gate": {"passed": false, "failures": [{"rule": "max_change", "metric": "users_personalized", "value": 10.0, "bound": 0.2}]},
                 "metrics": {"users_personalized": 10, "catalog_coverage": 0.05}, "promoted_by": null, "reason": null},
                {"version": "v2", "state": "CURRENT", "job_id": "j-2", "published_at": "2026-12-01T02:00:00Z",
                 "gate": {"passed": true, "failures": []}, "metrics": {"users_personalized": 100, "catalog_coverage": 0.4},
                 "promoted_by": "ana", "reason": "back"}
            ],
            "next": null
        });
        assert_eq!(
            render(&answer),
            "result set spring serving v2 for 1m 35s, replaced v1; last job j-3 HELD\n\
             answers in the last hour: 10.0 (personalized 90 %, segment 10 %, global 0 %)\n\
             VERSION  STATE    JOB  PUBLISHED             GATE                                   USERS  COVERAGE  PROMOTED BY  REASON\n\
             v3       HELD     j-3  -                     failed: max_change users_personalized  10     0.050     -            -\n\
             v2       CURRENT  j-2  2026-12-01T02:00:00Z  passed                                 100    0.400     ana          back\n"
        );
        let empty = json!({"result_set": "winter", "current_version": null, "versions": []});
        assert_eq!(
            render(&empty),
            "result set winter serving no version\nno versions\n"
        );
    }
}
