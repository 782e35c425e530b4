//! `recoflow schedule show|pause|resume|delete ID`: one schedule whole (its form's name, state,
//! next firings in UTC and its zone, last runs with their jobs), or a change of its state
//! (`GET`, `PATCH {"state"}`, `DELETE /schedules/{id}`). Jobs already started are not touched.

use clap::{Args, Subcommand};
use serde_json::{json, Value};

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::{DELETE_SCHEDULE, SET_SCHEDULE_STATE, SHOW_SCHEDULE};

#[derive(Debug, Args)]
pub struct ScheduleArgs {
    #[command(subcommand)]
    pub action: ScheduleAction,
}

#[derive(Debug, Subcommand)]
pub enum ScheduleAction {
    /// The schedule: state, next runs, last runs and their jobs.
    Show { id: String },
    /// No more firings until resumed (its Scheduler schedule is disabled).
    Pause { id: String },
    /// Fire again (a rate without a start counts from now).
    Resume { id: String },
    /// Fire no more, ever; its running and waiting jobs go on.
    Delete { id: String },
}

pub async fn run(args: ScheduleArgs, ctx: &Context) -> Result<Report, CliError> {
    let api = ctx.api().await?;
    let (call, verb) = match &args.action {
        ScheduleAction::Show { id } => (SHOW_SCHEDULE.call(&[id]), None),
        ScheduleAction::Pause { id } => (state_call(id, "PAUSED"), Some("paused")),
        ScheduleAction::Resume { id } => (state_call(id, "ENABLED"), Some("resumed")),
        ScheduleAction::Delete { id } => (DELETE_SCHEDULE.call(&[id]), Some("deleted")),
    };
    let answer = api.send(call).await?.body;
    let text = match (&args.action, verb) {
        (ScheduleAction::Delete { .. }, _) => format!(
            "schedule {} deleted; it fires no more (jobs it started go on)\n",
            field(&answer, "schedule_id")
        ),
        (_, Some(verb)) => format!(
            "schedule {} {verb}\n{}",
            field(&answer, "schedule_id"),
            render(&answer)
        ),
        (_, None) => render(&answer),
    };
    Ok(Report::ok(text, answer))
}

fn state_call(id: &str, state: &str) -> crate::api::Call {
    SET_SCHEDULE_STATE
        .call(&[id])
        .json_body(json!({ "state": state }).to_string().into_bytes())
}

fn render(schedule: &Value) -> String {
    let form = schedule.get("form").cloned().unwrap_or(Value::Null);
    let block = form.get("schedule").cloned().unwrap_or(Value::Null);
    let mut text = format!(
        "schedule  {} ({}) {}\nwhen      {} in {} (overlap: {})\nresult    {} by {}\n",
        field(schedule, "schedule_id"),
        field(&form, "job_name"),
        field(schedule, "state"),
        field(&block, "expression"),
        field(&block, "timezone"),
        field(&block, "overlap"),
        field(&form, "result_set"),
        field(&form, "submitted_by"),
    );
    let runs = |name: &str| {
        schedule
            .get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    let next = runs("next_runs");
    if next.is_empty() {
        text.push_str("next      none (paused, or nothing left to fire)\n");
    }
    for run in &next {
        text.push_str(&format!(
            "next      {}  ({})\n",
            field(run, "utc"),
            field(run, "local")
        ));
    }
    let last = runs("last_runs");
    if !last.is_empty() {
        let mut table = Table::new(&["FIRED FOR", "JOB", "OUTCOME", "JOB STATUS"]);
        for run in &last {
            table.row(vec![
                field(run, "scheduled_time"),
                field(run, "job_id"),
                field(run, "outcome"),
                field(run, "status"),
            ]);
        }
        text.push_str(&table.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_schedule_shows_its_next_and_last_runs() {
        let schedule = json!({"schedule_id": "nightly-1", "state": "ENABLED",
            "form": {"job_name": "nightly", "result_set": "spring", "submitted_by": "ana@example.com",
                     "schedule": {"expression": "rate(1 day)", "timezone": "UTC", "overlap": "skip"}},
            "next_runs": [{"utc": "2026-12-02T00:00:00Z", "local": "2026-12-02T00:00:00+00:00"}],
            "last_runs": [{"scheduled_time": "2026-12-01T00:00:00Z", "job_id": "nightly-j", "outcome": "STARTED",
                           "status": "SUCCEEDED"}]});
        let text = render(&schedule);
        assert!(
            text.contains("when      rate(1 day) in UTC (overlap: skip)"),
            "{text}"
        );
        assert!(
            text.contains("next      2026-12-02T00:00:00Z  (2026-12-02T00:00:00+00:00)"),
            "{text}"
        );
        assert!(text.contains("nightly-j") && text.contains("SUCCEEDED"), "{text}");
        let paused = json!({"schedule_id": "s", "state": "PAUSED", "next_runs": [], "last_runs": []});
        assert!(render(&paused).contains("next      none"));
    }
}
