//! `recoflow result-sets [--limit N] [--next CURSOR]`: the result sets by name, the version
//! each serves, how old it is and what it holds, and its last job (`GET /result-sets`).

use clap::Args;
use serde_json::Value;

use super::paging::PageArgs;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{age, field, Report, Table};
use crate::routes::LIST_RESULT_SETS;

#[derive(Debug, Args)]
pub struct ResultSetsArgs {
    #[command(flatten)]
    pub page: PageArgs,
}

pub async fn run(args: ResultSetsArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = args.page.query(LIST_RESULT_SETS.call(&[]));
    let page = ctx.api().await?.send(call).await?.body;
    let mut text = render(&page);
    text.extend(args.page.more("recoflow result-sets", &page));
    Ok(Report::ok(text, page))
}

fn render(page: &Value) -> String {
    let mut table = Table::new(&["RESULT SET", "SERVING", "AGE", "HOLDS", "LAST JOB", "ITS STATUS"]);
    for rs in page
        .get("result_sets")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let last_job = rs.get("last_job").cloned().unwrap_or(Value::Null);
        table.row(vec![
            field(rs, "result_set"),
            field(rs, "current_version"),
            age(rs),
            field(rs, "output"),
            field(&last_job, "job_id"),
            field(&last_job, "status"),
        ]);
    }
    if table.is_empty() {
        return "no result sets\n".to_owned();
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_is_a_table() {
        let page = json!({"result_sets": [
            {"result_set": "spring", "current_version": "20261201T010000Z-00000001", "version_age_seconds": 7_400,
             "output": "user_items", "last_job": {"job_id": "j-2", "status": "HELD"}},
            {"result_set": "winter", "current_version": null, "version_age_seconds": null,
             "last_job": {"job_id": "j-3", "status": "DELIVERING"}}
        ], "next": null});
        assert_eq!(
            render(&page),
            "RESULT SET  SERVING                    AGE     HOLDS       LAST JOB  ITS STATUS\n\
             spring      20261201T010000Z-00000001  2h 03m  user_items  j-2       HELD\n\
             winter      -                          -       -           j-3       DELIVERING\n"
        );
        assert_eq!(render(&json!({"result_sets": []})), "no result sets\n");
    }
}
