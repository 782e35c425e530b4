//! The Slack messages of monitoring: a KPI's alert (the value, the band, its chart, the triage
//! hint, links to the placement's page and the dashboard), a placement's daily summary, and a
//! test reaching significance. Block Kit JSON with a plain-text fallback, as
//! `notification::messages` builds them; names go through `markup::escape`.

use serde_json::{json, Value};

use super::{Direction, Kpi, KpiAlert, Triage};
use crate::kpi::metrics::PlacementMetrics;
use crate::kpi::stats::{Comparison, Interval};
use crate::notification::markup::{escape, number};

/// Where a monitoring message links to.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MonitoringLinks {
    /// The placement on the web page (`<WebPageUrl>ui/placements?placement=<p>`).
    pub placement_page: Option<String>,
    /// The stack's CloudWatch dashboard.
    pub dashboard: Option<String>,
}

/// The web page's view of a placement, from the API's base URL. Placement names are slugs.
pub fn placement_page_url(api_url: &str, placement: &str) -> String {
    format!(
        "{}/ui/placements?placement={placement}",
        api_url.trim_end_matches('/')
    )
}

/// A CloudWatch dashboard in the console.
pub fn dashboard_console_url(region: &str, dashboard: &str) -> String {
    format!("https://{region}.console.aws.amazon.com/cloudwatch/home?region={region}#dashboards/dashboard/{dashboard}")
}

/// A KPI's value as people read it: rates in percent, counts whole.
pub fn kpi_value(kpi: Kpi, value: f64) -> String {
    match kpi {
        Kpi::Impressions => format!("{value:.0}"),
        Kpi::RevenuePerImpression => number(value),
        _ => format!("{:.2} %", value * 100.0),
    }
}

fn link_buttons(links: &MonitoringLinks) -> Option<Value> {
    let buttons: Vec<Value> = [
        ("Placement", &links.placement_page),
        ("Dashboard", &links.dashboard),
    ]
    .into_iter()
    .filter_map(|(label, url)| {
        url.as_ref()
            .map(|url| json!({"type": "button", "text": {"type": "plain_text", "text": label}, "url": url}))
    })
    .collect();
    (!buttons.is_empty()).then(|| json!({"type": "actions", "elements": buttons}))
}

/// What to look at first, by the triage's kind.
fn triage_text(triage: Triage) -> &'static str {
    match triage {
        Triage::Data => "*data*: check that the app still calls the placement and reports its events",
        Triage::Model => "*model*: compare the new version with the one before (promote the earlier one back if it is worse)",
        Triage::Configuration => "*configuration*: look at the placement's change of that day (its history)",
        Triage::Unclear => "*unclear*: no data, model or configuration change was seen; look at the app and the traffic",
    }
}

/// A breach's alert, once per breach; `chart_url`: its chart, when one could be drawn.
pub fn alert_message(alert: &KpiAlert, chart_url: Option<&str>, links: &MonitoringLinks) -> Value {
    let placement = escape(&alert.placement);
    let (kpi, value) = (alert.kpi.label(), kpi_value(alert.kpi, alert.value));
    let band = format!(
        "{} – {}",
        kpi_value(alert.kpi, alert.expected.low),
        kpi_value(alert.kpi, alert.expected.high)
    );
    let side = match alert.direction {
        Direction::Below => "below",
        Direction::Above => "above",
    };
    let reason = escape(&alert.reason);
    let text = format!(
        "recoflow: {kpi} of placement {placement} on {} was {value}, {side} its expected {band}. Triage: {} ({reason}).",
        alert.day,
        alert.triage.as_str()
    );
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":chart_with_downwards_trend: {placement}: {kpi} {side} its usual range"), "emoji": true}}),
        json!({"type": "section", "fields": [
            {"type": "mrkdwn", "text": format!("*Placement*\n{placement}")},
            {"type": "mrkdwn", "text": format!("*Metric*\n{kpi} (`{}`)", alert.kpi.as_str())},
            {"type": "mrkdwn", "text": format!("*Value on {}*\n{value}", alert.day)},
            {"type": "mrkdwn", "text": format!("*Expected*\n{band} (forecast {})", kpi_value(alert.kpi, alert.expected.forecast))},
        ]}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": format!("*Triage: {}*. {}\n_{reason}_", alert.triage.as_str(), triage_text(alert.triage))}}),
    ];
    if let Some(url) = chart_url {
        blocks.push(json!({"type": "image", "image_url": url,
            "alt_text": format!("{kpi} of {placement} over the last weeks with its expected band, {} in red", alert.day),
            "title": {"type": "plain_text", "text": format!("{kpi}, last weeks")}}));
    }
    blocks.push(json!({"type": "context", "elements": [{"type": "mrkdwn", "text": "Sent once per breach: the next alert of this metric comes after it is back in its band."}]}));
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

fn rate(interval: &Interval) -> String {
    match (interval.value, interval.low, interval.high) {
        (Some(v), Some(l), Some(h)) => format!("{:.2} % ({:.2}–{:.2})", v * 100.0, l * 100.0, h * 100.0),
        _ => "–".to_owned(),
    }
}

/// A placement's day: each arm's impressions, clicks, CTR, CVR and revenue, and the test's
/// state over its range (`metrics`: `from..=to` ends with the day; its arms' days too).
pub fn summary_message(metrics: &PlacementMetrics, links: &MonitoringLinks) -> Value {
    let placement = escape(&metrics.placement);
    let day = &metrics.to;
    let mut lines = Vec::new();
    for arm in &metrics.arms {
        let Some(today) = arm.days.last() else { continue };
        let k = &today.kpis;
        lines.push(format!(
            "• *{}*: {} impressions, {} clicks, CTR {}, CVR {}, revenue {}",
            escape(&arm.arm),
            k.impressions,
            k.clicks,
            rate(&k.ctr),
            rate(&k.cvr),
            number(k.revenue)
        ));
        if let Some(versus) = &arm.versus_first {
            if let Some(ctr) = versus.get("ctr") {
                lines.push(format!(
                    "   CTR vs the first arm since {}: {} (p = {})",
                    metrics.from,
                    ctr.difference
                        .map_or("–".to_owned(), |d| format!("{:+.2} points", d * 100.0)),
                    number(ctr.p_value)
                ));
            }
        }
    }
    if let Some(preference) = &metrics.interleaving {
        lines.push(format!(
            "Interleaving since {}: {} preferred in {} (p = {})",
            metrics.from,
            escape(&preference.arms[1]),
            rate(&preference.preference_share),
            number(preference.p_value)
        ));
    }
    if lines.is_empty() {
        lines.push("No events that day.".to_owned());
    }
    let text = format!("recoflow: placement {placement} on {day}: {}", lines.join(" "));
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":bar_chart: {placement} on {day}"), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": lines.join("\n")}}),
    ];
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

/// What reached significance: an A/B arm's KPI against the first arm, or the interleaving
/// preference.
#[derive(Debug, Clone, PartialEq)]
pub enum Significant<'a> {
    Ab {
        arm: &'a str,
        first: &'a str,
        kpi: &'a str,
        comparison: &'a Comparison,
    },
    Interleaving {
        preferred: &'a str,
        other: &'a str,
        share: &'a Interval,
        p_value: f64,
    },
}

/// A test reaching significance (sent once per arm and KPI).
pub fn significance_message(
    placement: &str,
    since: &str,
    significant: &Significant,
    links: &MonitoringLinks,
) -> Value {
    let placement = escape(placement);
    let line = match significant {
        Significant::Ab {
            arm,
            first,
            kpi,
            comparison,
        } => {
            let points = |x: Option<f64>| x.map_or("–".to_owned(), |x| format!("{:+.3}", x * 100.0));
            let (what, scale) = if *kpi == "revenue_per_impression" {
                (kpi.to_string(), "")
            } else {
                (kpi.to_string(), " points")
            };
            format!(
                "Arm *{}* differs from *{}* on `{what}`: {}{scale} (always-valid 95 % interval {} – {}), p = {}",
                escape(arm),
                escape(first),
                points(comparison.difference),
                points(comparison.low),
                points(comparison.high),
                number(comparison.p_value)
            )
        }
        Significant::Interleaving {
            preferred,
            other,
            share,
            p_value,
        } => format!(
            "Users prefer *{}* over *{}*: {} of decided interleaved lists, p = {}",
            escape(preferred),
            escape(other),
            rate(share),
            number(*p_value)
        ),
    };
    let text =
        format!("recoflow: the test of placement {placement} reached significance (since {since}): {line}");
    let mut blocks = vec![
        json!({"type": "header", "text": {"type": "plain_text", "text": format!(":trophy: {placement}: the test reached significance"), "emoji": true}}),
        json!({"type": "section", "text": {"type": "mrkdwn", "text": line}}),
        json!({"type": "context", "elements": [{"type": "mrkdwn", "text": format!("Counted since {since}; sent once. The p-value stays valid however often the metrics are looked at.")}]}),
    ];
    blocks.extend(link_buttons(links));
    json!({"text": text, "blocks": blocks})
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::monitoring::Expected;

    #[test]
    fn an_alert_says_the_metric_value_band_triage_and_links_with_its_chart() {
        let alert = KpiAlert {
            placement: "home-top".into(),
            kpi: Kpi::Ctr,
            day: "2026-11-25".into(),
            value: 0.024,
            expected: Expected {
                forecast: 0.04,
                low: 0.035,
                high: 0.045,
            },
            direction: Direction::Below,
            triage: Triage::Model,
            reason: "version v2 first served that day or the day before".into(),
            opened_at: "2026-11-26T00:15:00Z".into(),
            closed_on: None,
        };
        let links = MonitoringLinks {
            placement_page: Some(placement_page_url("https://x.test/prod/", "home-top")),
            dashboard: Some(dashboard_console_url("us-east-1", "recoflow-serving")),
        };
        let message = alert_message(&alert, Some("https://s3.test/chart.png?sig"), &links);
        let text = message["text"].as_str().unwrap();
        assert!(
            text.contains(
                "CTR of placement home-top on 2026-11-25 was 2.40 %, below its expected 3.50 % – 4.50 %"
            ),
            "{text}"
        );
        assert!(text.contains("Triage: model"), "{text}");
        let blocks = message["blocks"].as_array().unwrap();
        let image = blocks.iter().find(|b| b["type"] == "image").unwrap();
        assert_eq!(image["image_url"], "https://s3.test/chart.png?sig");
        let actions = blocks.iter().find(|b| b["type"] == "actions").unwrap();
        assert_eq!(
            actions["elements"][0]["url"],
            "https://x.test/prod/ui/placements?placement=home-top"
        );
        assert!(actions["elements"][1]["url"]
            .as_str()
            .unwrap()
            .ends_with("#dashboards/dashboard/recoflow-serving"));
        let without = alert_message(&alert, None, &MonitoringLinks::default());
        let blocks = without["blocks"].as_array().unwrap();
        assert!(blocks
            .iter()
            .all(|b| b["type"] != "image" && b["type"] != "actions"));
    }
}
