//! `DELETE /result-sets/{result_set}/versions/{version}`: discards a held version, noting who
//! and when; it is never served after (its lists expire as usual). A version discarded already
//! answers `200` as it is; any other is `409 NotHeld` and nothing changes.

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::ports::VersionStore;
use recoflow_core::versions::{Decision, VersionState};
use serde_json::json;
use tracing::info;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};
use crate::result_set_lookup::{result_set_now, result_set_param, version_param, version_record};
use crate::version_views::VersionView;

pub async fn discard<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let version = version_param(call, result_set)?;
    let now = result_set_now(ports, result_set).await?;
    let mut record = version_record(ports, result_set, version).await?;
    let now_unix = ports.clock().unix_now();
    match record.state(now.current(), now_unix) {
        VersionState::Held => {
            record.discarded = Some(Decision {
                by: call.caller.clone(),
                at: ports.clock().rfc3339_now(),
                reason: None,
            });
            ports
                .lists()
                .put_version(&record)
                .await
                .map_err(ApiError::service)?;
            info!(result_set, version, by = %call.caller, "held version discarded");
        }
        VersionState::Discarded => {}
        state => {
            return Err(ApiError::new(
                ErrorCode::NotHeld,
                format!(
                    "version {version} is {state}; only a HELD version can be discarded, nothing changed"
                ),
            ))
        }
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "result_set": result_set,
            "version": VersionView::of(&record, now.current(), now_unix),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use recoflow_core::clock::Clock;
    use serde_json::Value;

    use super::*;
    use crate::fake::*;

    async fn delete(ports: &FakeApiPorts, version: &str) -> (u16, Value) {
        let path = format!("/result-sets/spring/versions/{version}");
        let request = gateway_request(
            "DELETE",
            "/result-sets/{result_set}/versions/{version}",
            &path,
            "",
            &[],
        );
        answer_of(discard(ports, &signed_call(&request)).await).await
    }

    #[tokio::test]
    async fn a_held_version_is_discarded_once_and_then_shown_as_it_is() {
        let ports = with_versions();
        let (status, body) = delete(&ports, V3).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["version"]["state"], "DISCARDED");
        let discarded = stored_version(&ports, V3).discarded.unwrap();
        assert_eq!(
            (discarded.by.as_str(), discarded.at.clone()),
            (SIGNED_CALLER, ports.clock.rfc3339_now())
        );

        let before = stored_version(&ports, V3);
        let (status, body) = delete(&ports, V3).await;
        assert_eq!(
            (status, body["version"]["state"].as_str()),
            (200, Some("DISCARDED"))
        );
        assert_eq!(stored_version(&ports, V3), before, "nothing changed");
        assert_eq!(current_pointer(&ports).unwrap().version, V2);
    }

    #[tokio::test]
    async fn only_held_versions_can_be_discarded() {
        let ports = with_versions();
        for version in [V2, V1] {
            let (status, body) = delete(&ports, version).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (409, Some("NotHeld")),
                "{version}"
            );
            assert_eq!(stored_version(&ports, version).discarded, None);
        }
        let (status, body) = delete(&ports, "20261201T090000Z-00000009").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("VersionNotFound"))
        );
    }
}
