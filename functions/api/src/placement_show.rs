//! `GET /placements/{placement}`: the current document, its arms and their split, the history
//! of its revisions (who and when), newest first, and its open KPI alerts (the monitor
//! function's: one per KPI at most, until the KPI is back in its band).

use lambda_http::http::StatusCode;
use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::monitoring::{Direction, Expected, KpiAlert, Triage};
use recoflow_core::ports::PlacementStore;
use serde::Serialize;

use crate::call::Call;
use crate::experiment_ports::ExperimentPorts;
use crate::placement_views::{is_placement_name, placement_not_found, PlacementView, RevisionView};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};

/// Revisions shown with the placement.
const HISTORY_SHOWN: u32 = 20;

#[derive(Serialize)]
struct Shown<'a> {
    #[serde(flatten)]
    placement: PlacementView<'a>,
    history: Vec<RevisionView<'a>>,
    open_alerts: Vec<AlertView<'a>>,
}

/// What a client sees of an open alert.
#[derive(Serialize)]
struct AlertView<'a> {
    kpi: &'static str,
    day: &'a str,
    value: f64,
    expected: Expected,
    direction: Direction,
    triage: Triage,
    reason: &'a str,
    opened_at: &'a str,
}

impl<'a> AlertView<'a> {
    fn of(alert: &'a KpiAlert) -> Self {
        Self {
            kpi: alert.kpi.as_str(),
            day: &alert.day,
            value: alert.value,
            expected: alert.expected,
            direction: alert.direction,
            triage: alert.triage,
            reason: &alert.reason,
            opened_at: &alert.opened_at,
        }
    }
}

pub async fn show_placement<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let name = call.path_parameter("placement");
    if !is_placement_name(name) {
        return Err(placement_not_found(name));
    }
    let latest = ports
        .experiments()
        .placements()
        .latest(name)
        .await
        .map_err(ApiError::service)?;
    let Some(record) = latest.filter(|r| !r.is_deleted()) else {
        return Err(placement_not_found(name));
    };
    let history = ports
        .experiments()
        .placements()
        .history(name, HISTORY_SHOWN)
        .await
        .map_err(ApiError::service)?;
    let open_alerts = ports
        .experiments()
        .monitoring()
        .open_alerts(name)
        .await
        .map_err(ApiError::service)?;
    let shown = Shown {
        placement: PlacementView::of(&record).ok_or_else(|| placement_not_found(name))?,
        history: history.iter().map(RevisionView::of).collect(),
        open_alerts: open_alerts.iter().map(AlertView::of).collect(),
    };
    Ok(json_response(StatusCode::OK, &shown))
}

#[cfg(test)]
mod tests {
    use recoflow_core::monitoring::Kpi;
    use serde_json::json;

    use super::*;
    use crate::experiment_ports::fixtures::place;
    use crate::fake::*;

    #[tokio::test]
    async fn a_placement_shows_its_open_alerts() {
        let ports = FakeApiPorts::default();
        place(
            &ports,
            &json!({"schema_version": 1, "placement": "home-top", "result_set": "spring",
                    "monitoring": {"enabled": true}}),
        );
        let alert = KpiAlert {
            placement: "home-top".into(),
            kpi: Kpi::Ctr,
            day: "2026-11-25".into(),
            value: 0.022,
            expected: Expected {
                forecast: 0.04,
                low: 0.035,
                high: 0.045,
            },
            direction: Direction::Below,
            triage: Triage::Model,
            reason: "version v2 first served that day or the day before".into(),
            opened_at: "2026-11-26T00:20:00Z".into(),
            closed_on: None,
        };
        assert!(ports.experiments.monitoring.open_alert(&alert).await.unwrap());
        let request = gateway_request("GET", "/placements/{placement}", "/placements/home-top", "", &[]);
        let response = show_placement(&ports, &signed_call(&request)).await.unwrap();
        let body = json_body(&response);
        assert_eq!(
            body["open_alerts"],
            json!([{"kpi": "ctr", "day": "2026-11-25", "value": 0.022,
                    "expected": {"forecast": 0.04, "low": 0.035, "high": 0.045},
                    "direction": "below", "triage": "model",
                    "reason": "version v2 first served that day or the day before",
                    "opened_at": "2026-11-26T00:20:00Z"}])
        );
        assert_eq!(body["history"].as_array().unwrap().len(), 1);
    }
}
