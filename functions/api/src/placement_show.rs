//! `GET /placements/{placement}`: the current document, its arms and their split, and the
//! history of its revisions (who and when), newest first.

use lambda_http::http::StatusCode;
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
    let shown = Shown {
        placement: PlacementView::of(&record).ok_or_else(|| placement_not_found(name))?,
        history: history.iter().map(RevisionView::of).collect(),
    };
    Ok(json_response(StatusCode::OK, &shown))
}
