//! `GET /jobs/{id}`: one job, whole (its status history, failure, delivery, what it launched).

use lambda_http::http::StatusCode;
use recoflow_core::job::JobId;
use recoflow_core::ports::JobStore;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::views::JobView;

pub async fn show<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = call.path_parameter("id");
    let job_id = JobId::parse(id).ok_or_else(|| ApiError::job_not_found(id))?;
    let record = ports.jobs().get(&job_id).await.map_err(ApiError::service)?;
    let record = record.ok_or_else(|| ApiError::job_not_found(id))?;
    Ok(json_response(
        StatusCode::OK,
        &JobView::of(&record, &ports.settings().region),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::*;
    use crate::response::ErrorCode;

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_404() {
        let ports = FakeApiPorts::default();
        for id in ["nope-123", "..%2Fetc"] {
            let request = gateway_request("GET", "/jobs/{id}", &format!("/jobs/{id}"), "", &[]);
            let refused = show(&ports, &signed_call(&request)).await.unwrap_err();
            assert_eq!(refused.code, ErrorCode::JobNotFound, "{id}");
        }
    }
}
