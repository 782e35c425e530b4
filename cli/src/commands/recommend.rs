//! `recoflow recommend RESULT_SET USER [--n N] [--attr K=V ...]`:
//! `GET /recommendations/{result_set}/{user_id}`; attributes (gender, age, region) place a
//! user the model never saw in a segment.

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::RECOMMEND;

#[derive(Debug, Args)]
pub struct RecommendArgs {
    pub result_set: String,
    pub user: String,
    /// How many items, 1-500 (default: the job's num_results)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub n: Option<u32>,
    /// A user attribute for the segment fallback, e.g. gender=F, age=27, region=tokyo (repeat)
    #[arg(long, value_name = "KEY=VALUE", value_parser = attribute)]
    pub attr: Vec<(String, String)>,
}

pub(super) fn attribute(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((key, value)) if !key.is_empty() => Ok((key.to_owned(), value.to_owned())),
        _ => Err(format!("{text:?} is not KEY=VALUE (e.g. gender=F)")),
    }
}

pub async fn run(args: RecommendArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = RECOMMEND.call(&[&args.result_set, &args.user]);
    if let Some(n) = args.n {
        call = call.query("n", n);
    }
    for (key, value) in &args.attr {
        call = call.query(key, value);
    }
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(render(&answer), answer))
}

fn render(answer: &Value) -> String {
    let segment = answer
        .get("segment")
        .and_then(Value::as_str)
        .map(|s| format!(" ({s})"))
        .unwrap_or_default();
    let mut out = format!(
        "{} for {} from {} version {}: {}{segment}, {} backfilled\n",
        answer.get("items").and_then(Value::as_array).map_or(0, Vec::len),
        field(answer, "user_id"),
        field(answer, "result_set"),
        field(answer, "version"),
        field(answer, "source"),
        field(answer, "backfilled"),
    );
    out.push_str(&item_table(answer));
    out
}

/// An answer's `items`, ranked, with their scores (nothing when there are none).
pub(crate) fn item_table(answer: &Value) -> String {
    let mut table = Table::new(&["#", "ITEM", "SCORE"]);
    for (rank, item) in answer
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let score = item
            .get("score")
            .and_then(Value::as_f64)
            .map(|s| format!("{s:.4}"))
            .unwrap_or_else(|| "-".into());
        table.row(vec![(rank + 1).to_string(), field(item, "item_id"), score]);
    }
    if table.is_empty() {
        String::new()
    } else {
        table.render()
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_list_is_ranked() {
        let answer = json!({"result_set": "rs", "user_id": "new", "version": "v1", "source": "segment",
            "segment": "GENDER=F", "items": [{"item_id": "i7", "score": 0.12}, {"item_id": "i9", "score": 0.1}], "backfilled": 1});
        assert_eq!(
            render(&answer),
            "2 for new from rs version v1: segment (GENDER=F), 1 backfilled\n\
             #  ITEM  SCORE\n\
             1  i7    0.1200\n\
             2  i9    0.1000\n"
        );
    }

    #[test]
    fn attributes_are_pairs() {
        assert_eq!(attribute("age=27"), Ok(("age".into(), "27".into())));
        assert_eq!(attribute("region=a=b"), Ok(("region".into(), "a=b".into())));
        assert!(attribute("gender").is_err());
        assert!(attribute("=F").is_err());
    }
}
