//! The pointer of the result set a route serves: current and unexpired, and holding the output
//! the route serves (an audience or similar-items route on a result set of users' lists, or the
//! other way round, answers that it holds none, naming the route that serves what it holds).

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Pointer;
use recoflow_core::form::Output;

use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode};
use crate::result_set_lookup::result_set_not_found;

/// The result set's current pointer (cached), refused when it has none or its version expired.
pub(crate) async fn current_pointer<P: ApiPorts>(ports: &P, result_set: &str) -> Result<Pointer, ApiError> {
    let pointer = ports
        .pointers()
        .get(ports.lists(), ports.clock(), result_set)
        .await
        .map_err(ApiError::service)?
        .ok_or_else(|| result_set_not_found(result_set))?;
    if pointer.expires_at > 0 && pointer.expires_at < ports.clock().unix_now() {
        let published_at = &pointer.published_at;
        return Err(ApiError::new(
            ErrorCode::ResultSetExpired,
            format!("result set \"{result_set}\" was last published at {published_at}, and that version has expired; run its job again"),
        ));
    }
    Ok(pointer)
}

/// The route that serves an output, for messages.
fn route_of(output: Output, result_set: &str) -> String {
    match output {
        Output::UserItems => format!("GET /recommendations/{result_set}/{{user_id}}"),
        Output::Audience => format!("GET /audiences/{result_set}"),
        Output::SimilarItems => format!("GET /similar-items/{result_set}/{{item_id}}"),
    }
}

fn what(output: Output) -> &'static str {
    match output {
        Output::UserItems => "users' lists",
        Output::Audience => "audiences",
        Output::SimilarItems => "similar items",
    }
}

/// The current pointer, if its version holds `output`.
pub async fn pointer_holding<P: ApiPorts>(
    ports: &P,
    result_set: &str,
    output: Output,
) -> Result<Pointer, ApiError> {
    let pointer = current_pointer(ports, result_set).await?;
    if pointer.output != output {
        return Err(ApiError::new(
            ErrorCode::ResultSetNotFound,
            format!(
                "result set \"{result_set}\" holds {}, not {}; use {}",
                what(pointer.output),
                what(output),
                route_of(pointer.output, result_set)
            ),
        ));
    }
    Ok(pointer)
}
