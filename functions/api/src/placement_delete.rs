//! `DELETE /placements/{placement}`: the placement stops serving (within `PLACEMENT_MAX_AGE`);
//! the delete is a revision of its history, and its events' aggregates stay readable.

use lambda_http::http::StatusCode;
use serde_json::json;

use crate::call::Call;
use crate::placement_views::{is_placement_name, placement_not_found, write_revision};
use crate::ports::ApiPorts;
use crate::response::{json_response, RouteResult};

pub async fn delete_placement<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let name = call.path_parameter("placement");
    if !is_placement_name(name) {
        return Err(placement_not_found(name));
    }
    let record = write_revision(ports, name, None, &call.caller, true).await?;
    Ok(json_response(
        StatusCode::OK,
        &json!({"placement": name, "revision": record.revision, "deleted": true,
                "updated_by": record.updated_by, "updated_at": record.updated_at}),
    ))
}
