//! `GET /placements/{placement}/metrics?from=YYYY-MM-DD&to=YYYY-MM-DD`: per arm and day and
//! over the range, impressions, clicks, CTR, add-to-cart rate, CVR and revenue per impression
//! with 95 % intervals; an A/B test's differences against its first arm with always-valid
//! p-values; an interleaving test's preference share (see `recoflow_core::kpi`). Days are UTC;
//! `to` defaults to today, `from` to 13 days before `to`; at most 92 days.

use lambda_http::http::StatusCode;
use lambda_http::RequestExt;
use recoflow_core::clock::Clock;
use recoflow_core::events::aggregates::parse_day;
use recoflow_core::kpi::metrics::{placement_metrics, MAX_RANGE_DAYS};
use recoflow_core::ports::{AggregateStore, PlacementStore};
use time::{Date, Duration};

use crate::call::Call;
use crate::experiment_ports::ExperimentPorts;
use crate::placement_views::{is_placement_name, placement_not_found};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};

/// Days shown when the query names no `from`.
const DEFAULT_DAYS: i64 = 14;

pub async fn show_metrics<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let name = call.path_parameter("placement");
    if !is_placement_name(name) {
        return Err(placement_not_found(name));
    }
    let (from, to) = range(call, ports.clock().utc().date())?;
    let experiments = ports.experiments();
    let latest = experiments
        .placements()
        .latest(name)
        .await
        .map_err(ApiError::service)?
        .ok_or_else(|| placement_not_found(name))?;
    let rows = experiments
        .aggregates()
        .read(name, from, to)
        .await
        .map_err(ApiError::service)?;
    let metrics = placement_metrics(name, latest.document.as_ref(), &rows, from, to);
    Ok(json_response(StatusCode::OK, &metrics))
}

fn range(call: &Call<'_>, today: Date) -> Result<(Date, Date), ApiError> {
    let parameters = call.request.query_string_parameters();
    if let Some((name, _)) = parameters.iter().find(|(name, _)| !["from", "to"].contains(name)) {
        return Err(ApiError::invalid_parameter(
            name,
            "unknown query parameter; use from or to",
        ));
    }
    let day = |name: &str| -> Result<Option<Date>, ApiError> {
        parameters
            .first(name)
            .map(|text| {
                parse_day(text).ok_or_else(|| {
                    ApiError::invalid_parameter(
                        name,
                        &format!("must be a day such as 2026-12-01, got {text:?}"),
                    )
                })
            })
            .transpose()
    };
    let to = day("to")?.unwrap_or(today);
    let from = day("from")?.unwrap_or(to - Duration::days(DEFAULT_DAYS - 1));
    if from > to {
        return Err(ApiError::invalid_parameter("from", "must not be after to"));
    }
    if (to - from).whole_days() >= MAX_RANGE_DAYS {
        return Err(ApiError::invalid_parameter(
            "from",
            &format!("the range may span at most {MAX_RANGE_DAYS} days"),
        ));
    }
    Ok((from, to))
}

#[cfg(test)]
mod tests {
    use recoflow_core::events::aggregates::{AggregateKey, AggregateRow, Counts};
    use recoflow_core::ports::AggregateStore;
    use serde_json::{json, Value};

    use super::*;
    use crate::experiment_ports::fixtures::place;
    use crate::fake::*;

    async fn get(ports: &FakeApiPorts, path: &str) -> (StatusCode, Value) {
        let request = gateway_request("GET", "/placements/{placement}/metrics", path, "", &[]);
        let response = show_metrics(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response());
        (response.status(), json_body(&response))
    }

    #[tokio::test]
    async fn the_range_s_aggregates_are_the_answer_and_bad_ranges_are_refused() {
        let ports = FakeApiPorts::default();
        place(
            &ports,
            &json!({"schema_version": 1, "placement": "home-top",
            "experiment": {"type": "ab", "salt": "s", "arms": [
                {"name": "control", "result_set": "spring"}, {"name": "candidate", "result_set": "autumn"}]}}),
        );
        let row = |arm: &str, day: &str, impressions, clicks| AggregateRow {
            key: AggregateKey {
                placement: "home-top".into(),
                day: parse_day(day).unwrap(),
                arm: arm.into(),
                version: "v1".into(),
            },
            counts: Counts {
                impressions,
                clicks,
                ..Counts::default()
            },
        };
        ports
            .experiments
            .aggregates
            .add(&[
                // 4 % against 6 %, enough impressions for the always-valid test to see it.
                row("control", "2026-12-01", 10_000, 400),
                row("candidate", "2026-12-01", 10_000, 600),
                row("candidate", "2026-12-02", 5_000, 300),
                row("candidate", "2026-11-30", 999, 999),
            ])
            .await
            .unwrap();
        let (status, body) = get(
            &ports,
            "/placements/home-top/metrics?from=2026-12-01&to=2026-12-02",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(
            (body["from"].as_str(), body["to"].as_str()),
            (Some("2026-12-01"), Some("2026-12-02"))
        );
        let candidate = &body["arms"][1];
        assert_eq!(candidate["arm"], "candidate");
        assert_eq!(
            candidate["total"]["impressions"], 15_000,
            "the day before the range is left out"
        );
        assert_eq!(candidate["days"].as_array().unwrap().len(), 2);
        assert_eq!(candidate["days"][1]["clicks"], 300);
        assert!(
            candidate["versus_first"]["ctr"]["p_value"].as_f64().unwrap() < 0.05,
            "{candidate}"
        );
        for (query, name) in [
            ("from=2026-12-3", "from"),
            ("from=2026-12-05&to=2026-12-01", "from"),
            ("from=2026-01-01&to=2026-12-01", "from"),
            ("days=3", "days"),
        ] {
            let (status, body) = get(&ports, &format!("/placements/home-top/metrics?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            assert!(
                body["error"]["message"].as_str().unwrap().starts_with(name),
                "{body}"
            );
        }
        assert_eq!(
            get(&ports, "/placements/nowhere/metrics").await.0,
            StatusCode::NOT_FOUND
        );
    }
}
