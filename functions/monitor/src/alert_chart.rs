//! The chart of an alert: the KPI over the last four weeks and the checked day, each day's
//! expected band shaded, the day's value in red. Stored at
//! `charts/placements/<placement>/<day>/<kpi>.png` in the results bucket and shown through a
//! presigned URL. A chart is an extra: one that cannot be drawn or stored is left out (and
//! logged), never the alert.

use recoflow_charts::{render_png, Band, Chart, ChartError, Point};
use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::day_text;
use recoflow_core::monitoring::check::KpiCheck;
use recoflow_core::ports::ObjectStore;
use tracing::warn;

use crate::ports::MonitorPorts;

#[derive(Debug, thiserror::Error)]
enum ChartFailure {
    #[error("drawing: {0}")]
    Draw(#[from] ChartError),
    #[error(transparent)]
    Store(#[from] ServiceError),
}

/// Where an alert's chart is kept.
pub fn chart_key(placement: &str, check: &KpiCheck) -> String {
    format!(
        "charts/placements/{placement}/{}/{}.png",
        day_text(check.day),
        check.kpi
    )
}

/// The chart's points, oldest first, the checked day last; days without a value are left out.
pub fn chart_points(check: &KpiCheck) -> Vec<Point> {
    let weekday = |d: time::Date| d.weekday().to_string().chars().take(3).collect::<String>();
    check
        .chart
        .iter()
        .filter(|(_, value, _)| value.is_finite())
        .map(|(day, value, band)| Point {
            label: format!("{:02}-{:02} {}", u8::from(day.month()), day.day(), weekday(*day)),
            value: *value,
            band: band.map(|b| Band {
                low: b.low,
                high: b.high,
            }),
        })
        .collect()
}

/// Draws, stores and presigns the chart; `None` (logged) when any of that fails.
pub async fn chart_url<P: MonitorPorts>(ports: &P, placement: &str, check: &KpiCheck) -> Option<String> {
    match store_chart(ports, placement, check).await {
        Ok(url) => Some(url),
        Err(err) => {
            warn!(placement, kpi = %check.kpi, error = %err, "chart left out");
            None
        }
    }
}

async fn store_chart<P: MonitorPorts>(
    ports: &P,
    placement: &str,
    check: &KpiCheck,
) -> Result<String, ChartFailure> {
    let points = chart_points(check);
    let chart = Chart {
        highlight: points.len().checked_sub(1),
        ..Chart::new(
            &format!("{} of {placement}", check.kpi.label()),
            "day (UTC)",
            check.kpi.label(),
        )
    };
    let png = render_png(&chart, &points)?;
    let settings = ports.settings();
    let key = chart_key(placement, check);
    let objects = ports.objects();
    objects
        .put(&settings.results_bucket, &key, png, "image/png")
        .await?;
    Ok(objects
        .presign_get(&settings.results_bucket, &key, settings.chart_url_lifetime)
        .await?
        .url)
}
