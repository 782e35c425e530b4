//! `GET /placements?limit=&next=`: the placements that exist (not deleted), by name.

use lambda_http::http::StatusCode;
use recoflow_core::ports::PlacementStore;
use serde::Serialize;

use crate::call::Call;
use crate::experiment_ports::ExperimentPorts;
use crate::paging::page_asked;
use crate::placement_views::{is_placement_name, PlacementView};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};

const DEFAULT_PAGE: u32 = 50;

#[derive(Serialize)]
struct Listed<'a> {
    placements: Vec<PlacementView<'a>>,
    next: Option<String>,
}

pub async fn list_placements<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, |next| {
        is_placement_name(next).then(|| next.to_owned())
    })?;
    let (records, next) = ports
        .experiments()
        .placements()
        .list(limit, after.as_deref())
        .await
        .map_err(ApiError::service)?;
    let listed = Listed {
        placements: records.iter().filter_map(PlacementView::of).collect(),
        next,
    };
    Ok(json_response(StatusCode::OK, &listed))
}
