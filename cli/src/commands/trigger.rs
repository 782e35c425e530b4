//! `recoflow trigger show|delete ID`: a data-driven form's trigger (state, quiet period, the
//! files it watches, its last runs with their jobs), or its deletion (`GET`, `DELETE
//! /triggers/{id}`): new data starts nothing more; jobs it started are not touched.

use clap::{Args, Subcommand};
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::{DELETE_TRIGGER, SHOW_TRIGGER};

#[derive(Debug, Args)]
pub struct TriggerArgs {
    #[command(subcommand)]
    pub action: TriggerAction,
}

#[derive(Debug, Subcommand)]
pub enum TriggerAction {
    /// The trigger: state, watched files, last runs and their jobs.
    Show { id: String },
    /// Watch no more: new data starts nothing; its jobs go on.
    Delete { id: String },
}

pub async fn run(args: TriggerArgs, ctx: &Context) -> Result<Report, CliError> {
    let api = ctx.api().await?;
    let (call, deleting) = match &args.action {
        TriggerAction::Show { id } => (SHOW_TRIGGER.call(&[id]), false),
        TriggerAction::Delete { id } => (DELETE_TRIGGER.call(&[id]), true),
    };
    let answer = api.send(call).await?.body;
    let text = if deleting {
        format!(
            "trigger {} deleted; new data starts nothing (jobs it started go on)\n",
            field(&answer, "trigger_id")
        )
    } else {
        render(&answer)
    };
    Ok(Report::ok(text, answer))
}

fn render(trigger: &Value) -> String {
    let form = trigger.get("form").cloned().unwrap_or(Value::Null);
    let mut text = format!(
        "trigger   {} ({}) {}\nquiet     {} s after the last upload\nresult    {} by {}\n",
        field(trigger, "trigger_id"),
        field(&form, "job_name"),
        field(trigger, "state"),
        field(trigger, "quiet_seconds"),
        field(&form, "result_set"),
        field(&form, "submitted_by"),
    );
    let list = |name: &str| {
        trigger
            .get(name)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
    };
    for uri in list("watches") {
        text.push_str(&format!("watches   {}\n", uri.as_str().unwrap_or_default()));
    }
    let runs = list("last_runs");
    if !runs.is_empty() {
        let mut table = Table::new(&["STARTED", "JOB", "JOB STATUS"]);
        for run in &runs {
            table.row(vec![field(run, "at"), field(run, "job_id"), field(run, "status")]);
        }
        text.push_str(&table.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_trigger_shows_its_files_and_runs() {
        let trigger = json!({"trigger_id": "nightly-1", "state": "ENABLED", "quiet_seconds": 60,
            "form": {"job_name": "nightly", "result_set": "spring", "submitted_by": "ana@example.com"},
            "watches": ["s3://data/i.csv", "s3://data/u.csv"],
            "last_runs": [{"at": "2026-12-01T00:00:00Z", "job_id": "nightly-j", "status": "SKIPPED"}]});
        let text = render(&trigger);
        assert!(
            text.starts_with("trigger   nightly-1 (nightly) ENABLED\nquiet     60 s"),
            "{text}"
        );
        assert!(text.contains("watches   s3://data/u.csv\n"), "{text}");
        assert!(text.contains("nightly-j") && text.contains("SKIPPED"), "{text}");
    }
}
