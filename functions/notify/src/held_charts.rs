//! The charts of a held version's failed metrics: each metric over the result set's last
//! published versions and the held one, the band the `anomaly` rule judged it by (when that rule
//! failed), the held value in red. Stored at `charts/<result set>/<version>/<metric>.png` in the
//! results bucket and shown through a presigned URL. A chart is an extra: one that cannot be
//! drawn or stored is left out (and logged), never the message.

use std::collections::BTreeSet;

use recoflow_charts::{render_png, Band, Chart, ChartError, Point};
use recoflow_core::errors::ServiceError;
use recoflow_core::notification::HeldRule;
use recoflow_core::ports::{ObjectStore, VersionStore};
use recoflow_core::quality::gate::DEFAULT_ANOMALY_HISTORY;
use recoflow_core::quality::{robust_band, GateFailure, Metric, QualityGate};
use recoflow_core::versions::VersionRecord;
use tracing::warn;

use crate::ports::NotifyPorts;

/// Versions a chart shows at most, the held one included.
const CHART_VERSIONS: usize = 20;
/// Earlier versions read at most (the anomaly band may learn from more than a chart shows).
const MAX_EARLIER_VERSIONS: usize = 100;
const VERSIONS_PAGE: u32 = 25;

#[derive(Debug, thiserror::Error)]
enum ChartFailure {
    #[error("drawing: {0}")]
    Draw(#[from] ChartError),
    #[error(transparent)]
    Store(#[from] ServiceError),
}

/// Where a version's chart of `metric` is kept.
pub fn chart_key(result_set: &str, version: &str, metric: Metric) -> String {
    format!("charts/{result_set}/{version}/{metric}.png")
}

/// The failed rules, each metric's first with the URL of its chart.
pub async fn rules_with_charts<P: NotifyPorts>(
    ports: &P,
    held: &VersionRecord,
    failures: &[GateFailure],
    gate: Option<&QualityGate>,
) -> Vec<HeldRule> {
    let anomaly_history = gate
        .and_then(|g| g.anomaly.as_ref())
        .map_or(DEFAULT_ANOMALY_HISTORY, |a| a.history) as usize;
    let earlier = earlier_published(ports, held, anomaly_history.max(CHART_VERSIONS - 1))
        .await
        .unwrap_or_else(|err| {
            warn!(error = %err, "no earlier versions for the charts; charting the held version alone");
            Vec::new()
        });
    let mut charted = BTreeSet::new();
    let mut rules = Vec::with_capacity(failures.len());
    for failure in failures {
        let mut chart_url = None;
        if charted.insert(failure.metric) {
            let judged_by_band = failures
                .iter()
                .any(|f| f.metric == failure.metric && f.rule == "anomaly");
            let band_history = judged_by_band.then_some(anomaly_history);
            match store_chart(ports, held, &earlier, failure.metric, band_history).await {
                Ok(url) => chart_url = Some(url),
                Err(err) => warn!(metric = %failure.metric, error = %err, "chart left out"),
            }
        }
        rules.push(HeldRule {
            failure: failure.clone(),
            chart_url,
        });
    }
    rules
}

/// The result set's published versions before the held one, newest first, at most `wanted`.
async fn earlier_published<P: NotifyPorts>(
    ports: &P,
    held: &VersionRecord,
    wanted: usize,
) -> Result<Vec<VersionRecord>, ServiceError> {
    let wanted = wanted.min(MAX_EARLIER_VERSIONS);
    let mut found = Vec::with_capacity(wanted);
    let mut after: Option<String> = None;
    loop {
        let (page, next) = ports
            .recommendations()
            .versions(&held.version_of, VERSIONS_PAGE, after.as_deref())
            .await?;
        found.extend(page.into_iter().filter(|v| {
            v.version < held.version
                && v.published_at.is_some()
                && v.discarded.is_none()
                && v.metrics.is_some()
        }));
        match next {
            Some(next) if found.len() < wanted => after = Some(next),
            _ => break,
        }
    }
    found.truncate(wanted);
    Ok(found)
}

/// A version's label on the x axis: its job's submission time, `MM-DD HH:MM` (UTC).
fn version_label(version: &VersionRecord) -> String {
    match (version.created_at.get(5..10), version.created_at.get(11..16)) {
        (Some(day), Some(time)) => format!("{day} {time}"),
        _ => version.version.clone(),
    }
}

/// The chart's points, oldest first, the held version last; with `band_history`, the band of
/// that many last earlier versions over them and the held one (as the anomaly rule drew it).
fn chart_points(
    held: &VersionRecord,
    earlier: &[VersionRecord],
    metric: Metric,
    band_history: Option<usize>,
) -> Option<Vec<Point>> {
    let value_of = |v: &VersionRecord| v.metrics.as_ref().and_then(|m| m.get(metric));
    let held_value = value_of(held)?;
    let with_values: Vec<(&VersionRecord, f64)> = earlier
        .iter()
        .filter_map(|v| value_of(v).map(|value| (v, value)))
        .collect();
    let band = band_history.and_then(|history| {
        let learnt: Vec<f64> = with_values
            .iter()
            .take(history)
            .rev()
            .map(|(_, value)| *value)
            .collect();
        robust_band(&learnt).map(|b| {
            (
                history,
                Band {
                    low: b.low,
                    high: b.high,
                },
            )
        })
    });
    let shown = with_values.iter().take(CHART_VERSIONS - 1).enumerate().rev();
    let mut points: Vec<Point> = shown
        .map(|(newest_first, (version, value))| Point {
            label: version_label(version),
            value: *value,
            band: band
                .filter(|(history, _)| newest_first < *history)
                .map(|(_, b)| b),
        })
        .collect();
    points.push(Point {
        label: version_label(held),
        value: held_value,
        band: band.map(|(_, b)| b),
    });
    Some(points)
}

/// Draws the chart, puts it in the results bucket and presigns it.
async fn store_chart<P: NotifyPorts>(
    ports: &P,
    held: &VersionRecord,
    earlier: &[VersionRecord],
    metric: Metric,
    band_history: Option<usize>,
) -> Result<String, ChartFailure> {
    let points = chart_points(held, earlier, metric, band_history).ok_or(ChartError::NoPoints)?;
    let chart = Chart {
        highlight: Some(points.len() - 1),
        ..Chart::new(
            &format!("{metric} of {}", held.version_of),
            "version (its job's submission, UTC)",
            metric.as_str(),
        )
    };
    let png = render_png(&chart, &points)?;
    let settings = ports.settings();
    let key = chart_key(&held.version_of, &held.version, metric);
    let objects = ports.objects();
    objects
        .put(&settings.results_bucket, &key, png, "image/png")
        .await?;
    Ok(objects
        .presign_get(&settings.results_bucket, &key, settings.presigned_url_lifetime)
        .await?
        .url)
}

#[cfg(test)]
mod tests {
    use recoflow_core::job::JobId;
    use recoflow_core::quality::VersionMetrics;

    use super::*;

    fn version(day: u32, coverage: f64) -> VersionRecord {
        VersionRecord {
            pk: String::new(),
            version_of: "spring".into(),
            version: format!("202612{day:02}T030000Z-0a1b2c3d"),
            job_id: JobId::parse("j-1").unwrap(),
            created_at: format!("2026-12-{day:02}T03:00:00.000Z"),
            written_at: None,
            published_at: None,
            held: false,
            metrics: Some(VersionMetrics {
                catalog_coverage: Some(coverage),
                ..VersionMetrics::default()
            }),
            gate: None,
            promoted: None,
            discarded: None,
            version_expires_at: 0,
            excluded_items: Vec::new(),
            expires_at: 0,
        }
    }

    #[test]
    fn the_band_covers_the_versions_it_was_learnt_from_and_the_held_one() {
        // Newest first, as the store lists them.
        let earlier: Vec<VersionRecord> = (1..=9).rev().map(|day| version(day, 0.30)).collect();
        let held = version(10, 0.10);
        let points = chart_points(&held, &earlier, Metric::CatalogCoverage, Some(8)).unwrap();
        assert_eq!(points.len(), 10);
        assert_eq!(points[0].label, "12-01 03:00", "oldest first");
        assert_eq!(points[9].label, "12-10 03:00");
        assert_eq!(points[9].value, 0.10);
        assert!(
            points[0].band.is_none(),
            "the ninth version back is not in the band's history"
        );
        let band = points[9].band.unwrap();
        assert!(points[1..].iter().all(|p| p.band == Some(band)));
        assert!(band.low < 0.30 && band.high > 0.30 && band.low > 0.10, "{band:?}");
        // Other rules: no band.
        let plain = chart_points(&held, &earlier, Metric::CatalogCoverage, None).unwrap();
        assert!(plain.iter().all(|p| p.band.is_none()));
        // Too little history for a band: none drawn.
        let few = chart_points(&held, &earlier[..3], Metric::CatalogCoverage, Some(8)).unwrap();
        assert!(few.iter().all(|p| p.band.is_none()));
    }

    #[test]
    fn a_chart_shows_at_most_twenty_versions() {
        let earlier: Vec<VersionRecord> = (1..=28).rev().map(|day| version(day, 0.3)).collect();
        let points = chart_points(&version(29, 0.1), &earlier, Metric::CatalogCoverage, None).unwrap();
        assert_eq!(points.len(), CHART_VERSIONS);
        assert_eq!(points[0].label, "12-10 03:00");
    }
}
