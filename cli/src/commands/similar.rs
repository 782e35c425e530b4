//! `recoflow similar RESULT_SET ITEM [--n N]`: `GET /similar-items/{result_set}/{item_id}`:
//! the items most similar to an item, or its category's (or the result set's) popular items.

use clap::Args;
use serde_json::Value;

use crate::commands::recommend::item_table;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report};
use crate::routes::SIMILAR_ITEMS;

#[derive(Debug, Args)]
pub struct SimilarArgs {
    pub result_set: String,
    pub item: String,
    /// How many items, 1-500 (default: the job's num_results)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub n: Option<u32>,
}

pub async fn run(args: SimilarArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = SIMILAR_ITEMS.call(&[&args.result_set, &args.item]);
    if let Some(n) = args.n {
        call = call.query("n", n);
    }
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(render(&answer), answer))
}

fn render(answer: &Value) -> String {
    let category = answer
        .get("category")
        .and_then(Value::as_str)
        .map(|c| format!(" (category {c})"))
        .unwrap_or_default();
    let mut out = format!(
        "{} like {} from {} version {}: {}{category}, {} backfilled\n",
        answer.get("items").and_then(Value::as_array).map_or(0, Vec::len),
        field(answer, "item_id"),
        field(answer, "result_set"),
        field(answer, "version"),
        field(answer, "source"),
        field(answer, "backfilled"),
    );
    out.push_str(&item_table(answer));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn similar_items_are_ranked_with_their_source() {
        let answer = json!({"result_set": "shop", "item_id": "coat", "version": "v1", "source": "category",
            "category": "outer", "items": [{"item_id": "parka", "score": 0.5}], "backfilled": 0});
        assert_eq!(
            render(&answer),
            "1 like coat from shop version v1: category (category outer), 0 backfilled\n\
             #  ITEM   SCORE\n\
             1  parka  0.5000\n"
        );
    }
}
