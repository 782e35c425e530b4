//! `recoflow audience RESULT_SET`: `GET /audiences/{result_set}`: the audiences a result set
//! serves, each with its size and its users by value of each segment column.

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::SHOW_AUDIENCE;

/// Values shown per column (the API gives up to 20, then "(other)").
const VALUES_SHOWN: usize = 5;

#[derive(Debug, Args)]
pub struct AudienceArgs {
    pub result_set: String,
}

pub async fn run(args: AudienceArgs, ctx: &Context) -> Result<Report, CliError> {
    let answer = ctx
        .api()
        .await?
        .send(SHOW_AUDIENCE.call(&[&args.result_set]))
        .await?
        .body;
    Ok(Report::ok(render(&answer), answer))
}

fn render(answer: &Value) -> String {
    let mut out = format!(
        "{} users in audiences of {} version {} (made {}, job {})\n",
        field(answer, "size"),
        field(answer, "result_set"),
        field(answer, "version"),
        field(answer, "created"),
        field(answer, "job_id"),
    );
    for audience in answer
        .get("audiences")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let whom = match audience.get("item").and_then(Value::as_str) {
            Some(item) => format!("item {item}"),
            None => format!(
                "items matching {}",
                audience.get("item_filter").unwrap_or(&Value::Null)
            ),
        };
        out.push_str(&format!("\n{whom}: {} users", field(audience, "size")));
        if let Some(error) = audience.get("error").and_then(Value::as_str) {
            out.push_str(&format!(" ({error})"));
        }
        out.push('\n');
        let mut table = Table::new(&["COLUMN", "VALUE", "USERS"]);
        let columns = audience.get("breakdown").and_then(Value::as_object);
        for (column, values) in columns.into_iter().flatten() {
            for value in values.as_array().into_iter().flatten().take(VALUES_SHOWN) {
                table.row(vec![column.clone(), field(value, "value"), field(value, "users")]);
            }
        }
        if !table.is_empty() {
            out.push_str(&table.render());
        }
        out.push_str(&format!(
            "users: recoflow audience-users {}",
            field(answer, "result_set")
        ));
        if let Some(item) = audience.get("item").and_then(Value::as_str) {
            out.push_str(&format!(" --item {item}"));
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn each_audience_has_its_breakdown_and_the_command_for_its_users() {
        let answer = json!({"result_set": "coats", "version": "v1", "created": "2026-12-01T00:00:00Z",
            "job_id": "j1", "size": 3, "audiences": [{"item": "i042", "size": 3,
            "breakdown": {"GENDER": [{"value": "F", "users": 3}]}}]});
        assert_eq!(
            render(&answer),
            "3 users in audiences of coats version v1 (made 2026-12-01T00:00:00Z, job j1)\n\
             \n\
             item i042: 3 users\n\
             COLUMN  VALUE  USERS\n\
             GENDER  F      3\n\
             users: recoflow audience-users coats --item i042\n"
        );
    }
}
