//! `recoflow placement-metrics PLACEMENT [--from DAY] [--to DAY]`:
//! `GET /placements/{placement}/metrics`: per arm over the range, impressions, CTR, add-to-cart
//! rate, CVR and revenue per impression with their 95 % intervals; an A/B test's difference
//! against the first arm with its always-valid p-value; an interleaving test's preference share.

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report, Table};
use crate::routes::PLACEMENT_METRICS;

#[derive(Debug, Args)]
pub struct PlacementMetricsArgs {
    pub placement: String,
    /// First day, YYYY-MM-DD (UTC; default 13 days before --to)
    #[arg(long, value_name = "DAY")]
    pub from: Option<String>,
    /// Last day, YYYY-MM-DD (UTC; default today)
    #[arg(long, value_name = "DAY")]
    pub to: Option<String>,
}

pub async fn run(args: PlacementMetricsArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = PLACEMENT_METRICS.call(&[&args.placement]);
    if let Some(from) = &args.from {
        call = call.query("from", from);
    }
    if let Some(to) = &args.to {
        call = call.query("to", to);
    }
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(render(&answer), answer))
}

/// `4.00 % [2.95, 5.40]`: a rate and its interval in percent, or a value (revenue) as it is.
fn interval(kpi: &Value, percent: bool) -> String {
    let number = |name: &str| kpi.get(name).and_then(Value::as_f64);
    let scale = if percent { 100.0 } else { 1.0 };
    match (number("value"), number("low"), number("high")) {
        (Some(v), Some(l), Some(h)) => {
            let unit = if percent { " %" } else { "" };
            format!("{:.2}{unit} [{:.2}, {:.2}]", v * scale, l * scale, h * scale)
        }
        _ => "-".to_owned(),
    }
}

fn render(metrics: &Value) -> String {
    let mut out = format!(
        "{} from {} to {}{}\n",
        field(metrics, "placement"),
        field(metrics, "from"),
        field(metrics, "to"),
        metrics
            .get("experiment")
            .and_then(Value::as_str)
            .map(|e| format!(" ({e} test)"))
            .unwrap_or_default()
    );
    let mut table = Table::new(&[
        "ARM",
        "IMPRESSIONS",
        "CTR",
        "ADD-TO-CART",
        "CVR",
        "REVENUE/IMP",
        "VS FIRST (CTR)",
        "P",
    ]);
    for arm in metrics
        .get("arms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let total = arm.get("total").cloned().unwrap_or(Value::Null);
        let versus = arm.get("versus_first").and_then(|v| v.get("ctr"));
        let difference = versus
            .and_then(|v| v.get("difference"))
            .and_then(Value::as_f64)
            .map(|d| format!("{:+.2} pp", d * 100.0))
            .unwrap_or_else(|| "-".into());
        let p = versus
            .and_then(|v| v.get("p_value"))
            .and_then(Value::as_f64)
            .map(|p| format!("{p:.4}"))
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            field(arm, "arm"),
            field(&total, "impressions"),
            interval(&total["ctr"], true),
            interval(&total["add_to_cart_rate"], true),
            interval(&total["cvr"], true),
            interval(&total["revenue_per_impression"], false),
            difference,
            p,
        ]);
    }
    out.push_str(&table.render());
    if let Some(preference) = metrics.get("interleaving").filter(|p| !p.is_null()) {
        out.push_str(&format!(
            "preference for {}: {} (wins {} to {}), p = {:.4}\n",
            preference["arms"][1].as_str().unwrap_or("-"),
            interval(&preference["preference_share"], true),
            preference["wins"][1],
            preference["wins"][0],
            preference["p_value"].as_f64().unwrap_or(1.0)
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn rates_show_as_percent_with_their_intervals() {
        let metrics = json!({"placement": "home-top", "from": "2026-12-01", "to": "2026-12-14", "experiment": "ab",
        "arms": [
            {"arm": "control", "total": {"impressions": 1000, "ctr": {"value": 0.04, "low": 0.0295, "high": 0.054}}},
            {"arm": "candidate", "total": {"impressions": 1000, "ctr": {"value": 0.06, "low": 0.047, "high": 0.077}},
             "versus_first": {"ctr": {"difference": 0.02, "p_value": 0.0031}}}
        ]});
        let text = render(&metrics);
        assert!(
            text.starts_with("home-top from 2026-12-01 to 2026-12-14 (ab test)\n"),
            "{text}"
        );
        assert!(text.contains("4.00 % [2.95, 5.40]"), "{text}");
        assert!(text.contains("+2.00 pp") && text.contains("0.0031"), "{text}");
    }
}
