//! `recoflow audience-users RESULT_SET [--item ITEM] [--limit N] [--next CURSOR]`:
//! `GET /audiences/{result_set}/users`: an audience's users, best first, a page at a time.

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::AUDIENCE_USERS;

#[derive(Debug, Args)]
pub struct AudienceUsersArgs {
    pub result_set: String,
    /// The audience's item (an audience for an item filter needs none)
    #[arg(long)]
    pub item: Option<String>,
    /// Users on the page, 1-1000 (default 100)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub limit: Option<u32>,
    /// The cursor a previous page printed, for the page after it
    #[arg(long, value_name = "CURSOR")]
    pub next: Option<String>,
}

pub async fn run(args: AudienceUsersArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = AUDIENCE_USERS.call(&[&args.result_set]);
    if let Some(item) = &args.item {
        call = call.query("item", item);
    }
    if let Some(limit) = args.limit {
        call = call.query("limit", limit);
    }
    if let Some(next) = &args.next {
        call = call.query("next", next);
    }
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(render(&args, &answer), answer))
}

fn render(args: &AudienceUsersArgs, answer: &Value) -> String {
    let users = answer
        .get("users")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let columns: Vec<String> = users
        .first()
        .and_then(|u| u.get("attributes"))
        .and_then(Value::as_object)
        .map(|a| a.keys().cloned().collect())
        .unwrap_or_default();
    let mut header = vec!["USER", "SCORE"];
    header.extend(columns.iter().map(String::as_str));
    let mut table = Table::new(&header);
    for user in &users {
        let mut row = vec![field(user, "user_id"), field(user, "score")];
        row.extend(columns.iter().map(|c| field(&user["attributes"], c)));
        table.row(row);
    }
    let mut out = format!(
        "{} users of {} version {}\n",
        users.len(),
        field(answer, "result_set"),
        field(answer, "version")
    );
    if !table.is_empty() {
        out.push_str(&table.render());
    }
    if let Some(next) = answer.get("next").and_then(Value::as_str) {
        let item = args
            .item
            .as_ref()
            .map(|i| format!(" --item {i}"))
            .unwrap_or_default();
        let limit = args.limit.map(|l| format!(" --limit {l}")).unwrap_or_default();
        out.push_str(&format!(
            "more: recoflow audience-users {}{item}{limit} --next {next}\n",
            args.result_set
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_page_is_a_table_and_the_command_for_the_next() {
        let args = AudienceUsersArgs {
            result_set: "coats".into(),
            item: Some("i042".into()),
            limit: Some(1),
            next: None,
        };
        let answer = json!({"result_set": "coats", "version": "v1", "next": "v1~0~40",
            "users": [{"user_id": "u1", "score": 0.9, "attributes": {"GENDER": "F"}}]});
        assert_eq!(
            render(&args, &answer),
            "1 users of coats version v1\n\
             USER  SCORE  GENDER\n\
             u1    0.9    F\n\
             more: recoflow audience-users coats --item i042 --limit 1 --next v1~0~40\n"
        );
    }
}
