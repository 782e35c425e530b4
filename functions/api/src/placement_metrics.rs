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
