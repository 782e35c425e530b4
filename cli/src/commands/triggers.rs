//! `recoflow triggers [--limit N] [--next CURSOR]`: the data-driven forms' triggers, newest
//! first, with their state, what they watch and their last run (`GET /triggers`).

use clap::Args;
use serde_json::Value;

use super::paging::PageArgs;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::LIST_TRIGGERS;

#[derive(Debug, Args)]
pub struct TriggersArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: TriggersArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = args.page.query(LIST_TRIGGERS.call(&[]));
    let page = ctx.api().await?.send(call).await?.body;
    let mut text = render(&page);
    text.extend(args.page.more("recoflow triggers", &page));
    Ok(Report::ok(text, page))
}

fn render(page: &Value) -> String {
    let mut table = Table::new(&["TRIGGER", "STATE", "RESULT SET", "WATCHES", "RUNS", "LAST RUN"]);
    for trigger in page
        .get("triggers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let watches = trigger
            .get("watches")
            .and_then(Value::as_array)
            .map(|uris| {
                uris.iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(" ")
            })
            .unwrap_or_default();
        let last = trigger.get("last_run").cloned().unwrap_or(Value::Null);
        table.row(vec![
            field(trigger, "trigger_id"),
            field(trigger, "state"),
            field(trigger, "result_set"),
            watches,
            field(trigger, "runs"),
            format!("{} {}", field(&last, "job_id"), field(&last, "at"))
                .trim()
                .to_owned(),
        ]);
    }
    if table.is_empty() {
        return "no triggers\n".to_owned();
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_is_a_table() {
        let page = json!({"triggers": [{"trigger_id": "fresh-data-1", "state": "ENABLED",
            "result_set": "spring", "runs": 2,
            "watches": ["s3://data/i.csv", "s3://data/u.csv"],
            "last_run": {"job_id": "fresh-data-run-2", "at": "2026-12-01T03:00:00Z"}}],
            "next": null});
        let text = render(&page);
        assert!(text.lines().next().unwrap().starts_with("TRIGGER"), "{text}");
        let row = text.lines().nth(1).unwrap();
        for part in [
            "fresh-data-1",
            "ENABLED",
            "spring",
            "s3://data/i.csv s3://data/u.csv",
            "fresh-data-run-2 2026-12-01T03:00:00Z",
        ] {
            assert!(row.contains(part), "{part} in {row}");
        }
        assert_eq!(render(&json!({"triggers": []})), "no triggers\n");
    }
}
