//! A placement's daily summary (`monitoring.summary: "daily"`) and the message of its test
//! reaching significance: both from the metrics route's numbers over the test's days, each
//! noted in the monitoring log before it is sent, so it goes out once.

use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::day_text;
use recoflow_core::kpi::metrics::PlacementMetrics;
use recoflow_core::kpi::stats::Interval;
use recoflow_core::monitoring::messages::{
    significance_message, summary_message, MonitoringLinks, Significant,
};
use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::placement::Placement;
use time::Date;
use tracing::info;

use crate::ports::MonitorPorts;
use crate::slack::send;

/// Notes are kept this long after their day (unix seconds; DynamoDB TTL).
const NOTE_DAYS: i64 = 400;

fn note_expiry(day: Date) -> i64 {
    day.midnight().assume_utc().unix_timestamp() + NOTE_DAYS * 86_400
}

/// The day's summary, once per day.
pub async fn send_summary<P: MonitorPorts>(
    ports: &P,
    metrics: &PlacementMetrics,
    day: Date,
    links: &MonitoringLinks,
) -> Result<bool, ServiceError> {
    let note = format!("summary#{}", day_text(day));
    if !ports
        .log()
        .note_once(&metrics.placement, &note, note_expiry(day))
        .await?
    {
        return Ok(false);
    }
    send(ports, "summary", &summary_message(metrics, links)).await?;
    Ok(true)
}

/// Each comparison of the test that is significant now and was not announced: one message
/// each, once. The note names the experiment's salt, so a new test is announced anew.
pub async fn announce_significance<P: MonitorPorts>(
    ports: &P,
    placement: &Placement,
    metrics: &PlacementMetrics,
    day: Date,
    links: &MonitoringLinks,
) -> Result<u32, ServiceError> {
    let Some(experiment) = &placement.experiment else {
        return Ok(0);
    };
    let salt = experiment.salt.as_deref().unwrap_or("-");
    let first = experiment.arms.first().map_or("", |a| a.name.as_str());
    let mut found: Vec<(String, Significant)> = Vec::new();
    for arm in &metrics.arms {
        for (kpi, comparison) in arm.versus_first.iter().flatten() {
            if comparison.significant {
                found.push((
                    format!("significant#{salt}#{}#{kpi}", arm.arm),
                    Significant::Ab {
                        arm: &arm.arm,
                        first,
                        kpi,
                        comparison,
                    },
                ));
            }
        }
    }
    let first_share;
    if let Some(preference) = metrics.interleaving.as_ref().filter(|p| p.significant) {
        // The share is the second arm's; the first arm's is its complement.
        let share = &preference.preference_share;
        first_share = Interval {
            value: share.value.map(|v| 1.0 - v),
            low: share.high.map(|h| 1.0 - h),
            high: share.low.map(|l| 1.0 - l),
        };
        let second_preferred = share.value.unwrap_or(0.5) > 0.5;
        let (preferred, other, share) = if second_preferred {
            (1, 0, share)
        } else {
            (0, 1, &first_share)
        };
        found.push((
            format!("significant#{salt}#interleaving#{}", preference.arms[preferred]),
            Significant::Interleaving {
                preferred: &preference.arms[preferred],
                other: &preference.arms[other],
                share,
                p_value: preference.p_value,
            },
        ));
    }
    let mut announced = 0;
    for (note, significant) in found {
        if !ports
            .log()
            .note_once(&metrics.placement, &note, note_expiry(day))
            .await?
        {
            continue;
        }
        info!(placement = %metrics.placement, note, "test reached significance");
        let message = significance_message(&metrics.placement, &metrics.from, &significant, links);
        send(ports, "significance", &message).await?;
        announced += 1;
    }
    Ok(announced)
}
