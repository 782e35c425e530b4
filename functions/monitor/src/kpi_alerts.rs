//! A monitored placement's day: its KPIs against their seasonal bands; a breach opens one
//! alert (kept in the monitoring log before it is sent, so overlapping or repeated checks
//! send it once) with its chart; a KPI back in its band closes its open alert.

use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::day_text;
use recoflow_core::monitoring::check::{breaches, check_day, Verdict};
use recoflow_core::monitoring::messages::{alert_message, MonitoringLinks};
use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::monitoring::series::DayTotals;
use recoflow_core::placement::Placement;
use recoflow_core::ports::{Clock, PlacementStore};
use time::Date;
use tracing::info;

use crate::alert_chart::chart_url;
use crate::event::MonitorOutcome;
use crate::ports::MonitorPorts;
use crate::slack::send;

/// Revisions read to find a change on the checked day (newest first).
const HISTORY_READ: u32 = 20;

/// Checks the last day of `totals` (the days before it are the history).
pub async fn check_kpis<P: MonitorPorts>(
    ports: &P,
    placement: &Placement,
    totals: &[DayTotals],
    links: &MonitoringLinks,
) -> Result<MonitorOutcome, ServiceError> {
    let name = placement.placement.as_str();
    let Some(today) = totals.last() else {
        return Ok(MonitorOutcome::default());
    };
    let day = day_text(today.day);
    let checks = check_day(totals, placement.monitoring.sensitivity);
    let log = ports.log();
    let mut outcome = MonitorOutcome::default();
    let open = log.open_alerts(name).await?;
    for check in &checks {
        let back_in_band = matches!(check.verdict, Verdict::Inside(_));
        if back_in_band && open.iter().any(|a| a.kpi == check.kpi && a.day < day) {
            log.close_alert(name, check.kpi, &day).await?;
            outcome.closed += 1;
        }
    }
    let changed = changed_on(ports, name, today.day).await?;
    let alerts = breaches(name, &checks, totals, changed, &ports.clock().rfc3339_now());
    for alert in alerts {
        if !log.open_alert(&alert).await? {
            continue;
        }
        let check = checks.iter().find(|c| c.kpi == alert.kpi);
        let url = match check {
            Some(check) => chart_url(ports, name, check).await,
            None => None,
        };
        info!(placement = name, kpi = %alert.kpi, day, value = alert.value, triage = alert.triage.as_str(), "KPI outside its band: alert");
        send(ports, "alert", &alert_message(&alert, url.as_deref(), links)).await?;
        outcome.alerts += 1;
    }
    Ok(outcome)
}

/// The revision of the placement written on `day`, if any.
async fn changed_on<P: MonitorPorts>(
    ports: &P,
    placement: &str,
    day: Date,
) -> Result<Option<u64>, ServiceError> {
    let day = day_text(day);
    let history = ports.placements().history(placement, HISTORY_READ).await?;
    Ok(history
        .iter()
        .find(|r| r.updated_at.starts_with(&day))
        .map(|r| r.revision))
}
