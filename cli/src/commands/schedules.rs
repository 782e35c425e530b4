//! `recoflow schedules [--limit N] [--next CURSOR]`: the recurring forms' schedules, newest
//! first, with their state, next firing and last one (`GET /schedules`).

use clap::Args;
use serde_json::Value;

use super::paging::PageArgs;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::LIST_SCHEDULES;

#[derive(Debug, Args)]
pub struct SchedulesArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: SchedulesArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = args.page.query(LIST_SCHEDULES.call(&[]));
    let page = ctx.api().await?.send(call).await?.body;
    let mut text = render(&page);
    text.extend(args.page.more("recoflow schedules", &page));
    Ok(Report::ok(text, page))
}

fn render(page: &Value) -> String {
    let mut table = Table::new(&[
        "SCHEDULE",
        "STATE",
        "WHEN",
        "NEXT RUN (ITS ZONE)",
        "LAST RUN",
        "IT",
    ]);
    for schedule in page
        .get("schedules")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let last = schedule.get("last_run").cloned().unwrap_or(Value::Null);
        let next = schedule.get("next_run").cloned().unwrap_or(Value::Null);
        table.row(vec![
            field(schedule, "schedule_id"),
            field(schedule, "state"),
            format!(
                "{} {}",
                field(schedule, "expression"),
                field(schedule, "timezone")
            ),
            field(&next, "local"),
            field(&last, "scheduled_time"),
            field(&last, "outcome"),
        ]);
    }
    if table.is_empty() {
        return "no schedules\n".to_owned();
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_is_a_table() {
        let page = json!({"schedules": [{"schedule_id": "nightly-1", "state": "ENABLED",
            "expression": "cron(0 3 ? * MON *)", "timezone": "Asia/Tokyo",
            "next_run": {"utc": "2026-12-06T18:00:00Z", "local": "2026-12-07T03:00:00+09:00"},
            "last_run": {"scheduled_time": "2026-11-29T18:00:00Z", "job_id": "j", "outcome": "SKIPPED"}}],
            "next": null});
        let text = render(&page);
        assert!(text.lines().next().unwrap().starts_with("SCHEDULE"), "{text}");
        let row = text.lines().nth(1).unwrap();
        for part in [
            "nightly-1",
            "ENABLED",
            "cron(0 3 ? * MON *) Asia/Tokyo",
            "2026-12-07T03:00:00+09:00",
            "SKIPPED",
        ] {
            assert!(row.contains(part), "{part} in {row}");
        }
        assert_eq!(render(&json!({"schedules": []})), "no schedules\n");
    }
}
