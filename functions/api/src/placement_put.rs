//! `PUT /placements/{placement}`: validates the document (every problem at once, like forms)
//! and stores it as the placement's next revision, with who and when; served within
//! `PLACEMENT_MAX_AGE` by every instance, at once by this one.

use lambda_http::http::StatusCode;
use recoflow_core::document::Problem;
use recoflow_core::placement::validation::{too_large_problem, validate_placement};
use recoflow_core::placement::MAX_PLACEMENT_BYTES;

use crate::call::Call;
use crate::placement_views::{is_placement_name, write_revision, PlacementView};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};

pub async fn put_placement<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let name = call.path_parameter("placement");
    if !is_placement_name(name) {
        return Err(ApiError::invalid_parameter(
            "placement",
            "must be lower-case letters, digits and single hyphens, 3 to 48 characters",
        ));
    }
    let body = call.body();
    if body.len() > MAX_PLACEMENT_BYTES {
        return Err(ApiError::with_problems(
            ErrorCode::PlacementTooLarge,
            format!(
                "the placement is larger than {} KiB; nothing was stored",
                MAX_PLACEMENT_BYTES / 1024
            ),
            vec![too_large_problem(body.len() as u64)],
        ));
    }
    let placement = validate_placement(body).and_then(|placement| match placement.placement == name {
        true => Ok(placement),
        false => Err(vec![Problem::new(
            "$.placement",
            "name_mismatch",
            format!(
                "the document names placement \"{}\" but was sent to /placements/{name}; make them the same",
                placement.placement
            ),
        )]),
    });
    let placement = placement.map_err(|problems| {
        ApiError::with_problems(
            ErrorCode::InvalidPlacement,
            format!(
                "the placement has {} problem(s); nothing was stored",
                problems.len()
            ),
            problems,
        )
    })?;
    let record = write_revision(ports, name, Some(placement), &call.caller, false).await?;
    let status = if record.revision == 1 {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok(json_response(status, &PlacementView::of(&record)))
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::fake::*;

    pub(crate) fn ab_document() -> Value {
        json!({
            "schema_version": 1, "placement": "home-top",
            "experiment": {"type": "ab", "salt": "2026-12", "arms": [
                {"name": "control", "result_set": "spring", "weight": 50},
                {"name": "candidate", "result_set": "autumn", "weight": 50}
            ]}
        })
    }

    async fn put(ports: &FakeApiPorts, name: &str, body: &str) -> (StatusCode, Value) {
        let request = gateway_request(
            "PUT",
            "/placements/{placement}",
            &format!("/placements/{name}"),
            body,
            &[],
        );
        let response = put_placement(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response());
        (response.status(), json_body(&response))
    }

    #[tokio::test]
    async fn a_placement_is_stored_with_its_history_and_served_from_the_next_read() {
        let ports = FakeApiPorts::default();
        let (status, body) = put(&ports, "home-top", &ab_document().to_string()).await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        assert_eq!(body["revision"], 1);
        assert_eq!(body["updated_by"], SIGNED_CALLER);
        assert_eq!(
            body["arms"][1],
            json!({"arm": "candidate", "result_set": "autumn", "kind": "ab", "share": 0.5})
        );
        let mut changed = ab_document();
        changed["experiment"]["arms"][1]["weight"] = json!(150);
        let (status, body) = put(&ports, "home-top", &changed.to_string()).await;
        assert_eq!((status, body["revision"].clone()), (StatusCode::OK, json!(2)));
        assert_eq!(body["arms"][1]["share"], 0.75);
        let history = ports.experiments.placements.revisions.lock().unwrap()["home-top"].clone();
        assert_eq!(history.iter().map(|r| r.revision).collect::<Vec<_>>(), [1, 2]);
    }

    #[tokio::test]
    async fn every_problem_is_refused_at_once_and_nothing_is_stored() {
        let ports = FakeApiPorts::default();
        let mut bad = ab_document();
        bad["placement"] = json!("item-detail");
        bad["n"] = json!(0);
        let (status, body) = put(&ports, "home-top", &bad.to_string()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "InvalidPlacement");
        let codes: Vec<&str> = body["error"]["problems"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["code"].as_str().unwrap())
            .collect();
        assert_eq!(codes, ["out_of_range"], "the schema first");
        bad["n"] = json!(5);
        let (_, body) = put(&ports, "home-top", &bad.to_string()).await;
        assert_eq!(body["error"]["problems"][0]["code"], "name_mismatch");
        let (status, body) = put(&ports, "home-top", &"x".repeat(MAX_PLACEMENT_BYTES + 1)).await;
        assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(body["error"]["code"], "PlacementTooLarge");
        assert_eq!(put(&ports, "Home_Top", "{}").await.0, StatusCode::BAD_REQUEST);
        assert!(ports.experiments.placements.revisions.lock().unwrap().is_empty());
    }
}
