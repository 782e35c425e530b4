//! `recoflow jobs [--limit N] [--next CURSOR]`: recent jobs, newest first (`GET /jobs`).

use clap::Args;
use serde_json::Value;
use time::OffsetDateTime;

use super::paging::PageArgs;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{between, duration, field, Report, Table};
use crate::routes::LIST_JOBS;

#[derive(Debug, Args)]
pub struct JobsArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: JobsArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = args.page.query(LIST_JOBS.call(&[]));
    let page = ctx.api().await?.send(call).await?.body;
    let mut text = render(&page, OffsetDateTime::now_utc());
    text.extend(args.page.more("recoflow jobs", &page));
    Ok(Report::ok(text, page))
}

fn render(page: &Value, now: OffsetDateTime) -> String {
    let mut table = Table::new(&["JOB ID", "NAME", "STATUS", "FOR", "RESULT SET", "SUBMITTED BY"]);
    for job in page.get("jobs").and_then(Value::as_array).into_iter().flatten() {
        let time_in = between(&field(job, "status_since"), now)
            .map(duration)
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            field(job, "job_id"),
            field(job, "job_name"),
            field(job, "status"),
            time_in,
            field(job, "result_set"),
            field(job, "submitted_by"),
        ]);
    }
    if table.is_empty() {
        return "no jobs\n".to_owned();
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::output::parse_time;

    #[test]
    fn a_page_is_a_table() {
        let page = json!({"jobs": [
            {"job_id": "a-1", "job_name": "spring", "status": "TRAINING", "status_since": "2026-11-24T10:00:00Z",
             "created_at": "2026-11-24T09:59:00Z", "result_set": "rs", "submitted_by": "ana@example.com"},
            {"job_id": "b-2", "job_name": null, "status": "REJECTED", "status_since": "2026-11-24T09:00:00Z", "created_at": "x"}
        ], "next": null});
        let text = render(&page, parse_time("2026-11-24T10:00:42Z").unwrap());
        assert_eq!(
            text,
            "JOB ID  NAME    STATUS    FOR     RESULT SET  SUBMITTED BY\n\
             a-1     spring  TRAINING  42s     rs          ana@example.com\n\
             b-2     -       REJECTED  1h 00m  -           -\n"
        );
        assert_eq!(
            render(&json!({"jobs": []}), OffsetDateTime::now_utc()),
            "no jobs\n"
        );
    }
}
