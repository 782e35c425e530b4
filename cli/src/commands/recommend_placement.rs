//! `recoflow recommend-placement PLACEMENT USER [--n N] [--attr K=V ...]`:
//! `GET /placements/{placement}/{user_id}`: what the placement shows the user, its arm, each
//! item's team when interleaved, and the recommendation_id to report events with.

use clap::Args;
use serde_json::Value;

use super::recommend::attribute;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::SERVE_PLACEMENT;

#[derive(Debug, Args)]
pub struct RecommendPlacementArgs {
    pub placement: String,
    pub user: String,
    /// How many items, 1-500 (default: the placement's n)
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..=500))]
    pub n: Option<u32>,
    /// A request attribute for the placement's rules and the segment fallback, e.g. region=tokyo (repeat)
    #[arg(long, value_name = "KEY=VALUE", value_parser = attribute)]
    pub attr: Vec<(String, String)>,
}

pub async fn run(args: RecommendPlacementArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = SERVE_PLACEMENT.call(&[&args.placement, &args.user]);
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
    let items: Vec<&Value> = answer
        .get("items")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let mut out = format!(
        "{} for {} at {}: arm {}, {} from version {}\n",
        items.len(),
        field(answer, "user_id"),
        field(answer, "placement"),
        field(answer, "arm"),
        field(answer, "source"),
        field(answer, "version"),
    );
    let interleaved = items.iter().any(|i| i.get("arm").is_some());
    let mut table = Table::new(if interleaved {
        &["#", "ITEM", "SCORE", "TEAM"]
    } else {
        &["#", "ITEM", "SCORE"]
    });
    for (rank, item) in items.iter().enumerate() {
        let score = item
            .get("score")
            .and_then(Value::as_f64)
            .map(|s| format!("{s:.4}"))
            .unwrap_or_else(|| "-".into());
        let mut row = vec![(rank + 1).to_string(), field(item, "item_id"), score];
        if interleaved {
            row.push(field(item, "arm"));
        }
        table.row(row);
    }
    if !table.is_empty() {
        out.push_str(&table.render());
    }
    out.push_str(&format!(
        "recommendation_id {}\n",
        field(answer, "recommendation_id")
    ));
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_interleaved_answer_shows_each_item_s_team() {
        let answer = json!({"placement": "item-detail", "user_id": "u1", "arm": "interleaving", "source": "personalized",
            "version": "v1", "recommendation_id": "v1.k.c.t",
            "items": [{"item_id": "a1", "score": 0.5, "arm": "a"}, {"item_id": "b1", "score": 0.25, "arm": "b"}]});
        let text = render(&answer);
        assert!(
            text.starts_with("2 for u1 at item-detail: arm interleaving, personalized from version v1\n"),
            "{text}"
        );
        assert!(
            text.contains("TEAM") && text.lines().any(|l| l.starts_with("2 ") && l.ends_with('b')),
            "{text}"
        );
        assert!(text.ends_with("recommendation_id v1.k.c.t\n"));
    }
}
