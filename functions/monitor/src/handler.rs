//! The check: every placement whose monitoring asks for something, on one day. A placement
//! that cannot be checked does not keep the others from it (the first such error is the
//! invocation's, after all were looked at).

use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::{day_text, parse_day};
use recoflow_core::kpi::metrics::{placement_metrics, MAX_RANGE_DAYS};
use recoflow_core::monitoring::check::HISTORY_DAYS;
use recoflow_core::monitoring::series::{arms_counted_twice, daily_totals};
use recoflow_core::placement::{Placement, Summary};
use recoflow_core::ports::{AggregateStore, Clock, PlacementStore};
use time::{Date, Duration};
use tracing::{info, warn};

use crate::error::MonitorError;
use crate::event::{MonitorEvent, MonitorOutcome};
use crate::kpi_alerts::check_kpis;
use crate::ports::MonitorPorts;
use crate::slack::links;
use crate::summary::{announce_significance, send_summary};

/// Placements read per page.
const PLACEMENTS_PAGE: u32 = 100;

pub async fn handle<P: MonitorPorts>(ports: &P, event: MonitorEvent) -> Result<MonitorOutcome, MonitorError> {
    let day = match &event.day {
        Some(text) => parse_day(text).ok_or_else(|| MonitorError::InvalidDay(text.clone()))?,
        None => ports.clock().utc().date() - Duration::days(1),
    };
    let mut outcome = MonitorOutcome {
        day: day_text(day),
        ..MonitorOutcome::default()
    };
    let mut first_error: Option<ServiceError> = None;
    let mut after: Option<String> = None;
    loop {
        let (records, next) = ports.placements().list(PLACEMENTS_PAGE, after.as_deref()).await?;
        let documents = records.iter().filter_map(|r| r.document.as_ref());
        for placement in
            documents.filter(|p| event.placement.as_ref().is_none_or(|only| *only == p.placement))
        {
            match check_placement(ports, placement, day).await {
                Ok(done) => outcome.add(&done),
                Err(err) => {
                    warn!(placement = %placement.placement, error = %err, "placement not checked");
                    first_error.get_or_insert(err);
                }
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    info!(day = %outcome.day, checked = outcome.checked, alerts = outcome.alerts, closed = outcome.closed,
        summaries = outcome.summaries, significant = outcome.significant, "placements checked");
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(outcome),
    }
}

/// One placement's day: its KPIs (monitoring enabled), its summary (asked daily) and its
/// test's significance (either).
async fn check_placement<P: MonitorPorts>(
    ports: &P,
    placement: &Placement,
    day: Date,
) -> Result<MonitorOutcome, ServiceError> {
    let monitoring = &placement.monitoring;
    let summary = monitoring.summary == Summary::Daily;
    if !monitoring.enabled && !summary {
        return Ok(MonitorOutcome::default());
    }
    let name = placement.placement.as_str();
    // One read serves the bands (the last weeks) and the test (up to the metrics' range).
    let read_from = day - Duration::days(MAX_RANGE_DAYS - 1);
    let rows = ports.aggregates().read(name, read_from, day).await?;
    let links = links(ports, name).await;
    let mut outcome = MonitorOutcome {
        checked: 1,
        ..MonitorOutcome::default()
    };
    if monitoring.enabled {
        let band_from = day - Duration::days(HISTORY_DAYS as i64);
        let totals = daily_totals(&rows, band_from, day, &arms_counted_twice(placement));
        outcome.add(&check_kpis(ports, placement, &totals, &links).await?);
    }
    // The test's days: from its first day with events (within the range) to the checked day.
    let test_from = rows.iter().map(|r| r.key.day).min().unwrap_or(day).min(day);
    let metrics = placement_metrics(name, Some(placement), &rows, test_from, day);
    if summary && send_summary(ports, &metrics, day, &links).await? {
        outcome.summaries += 1;
    }
    outcome.significant += announce_significance(ports, placement, &metrics, day, &links).await?;
    Ok(outcome)
}
