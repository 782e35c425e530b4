//! `DELETE /triggers/{id}`: the trigger watches its files no more (new data starts nothing);
//! jobs it started are not touched. Deleting it again answers the same.

use lambda_http::http::StatusCode;
use recoflow_core::schedule::instant_now;
use recoflow_core::trigger::remove::{delete_trigger as remove_trigger, RemoveError};
use serde_json::json;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};
use crate::trigger_show::{trigger_id, trigger_not_found};

pub async fn delete_trigger<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = trigger_id(call)?;
    let deleted = remove_trigger(ports.triggers(), &id, instant_now(ports.clock()))
        .await
        .map_err(|err| match err {
            RemoveError::Service(err) => ApiError::service(err),
            RemoveError::Contended(_) => ApiError::new(ErrorCode::ServiceUnavailable, err.to_string()),
        })?;
    let record = deleted.ok_or_else(|| trigger_not_found(id.as_str()))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "trigger_id": record.trigger_id,
            "state": record.state,
            "jobs_untouched": record.earlier_runs(),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::fake::*;
    use crate::submit::submit;
    use crate::trigger_show::show_trigger;

    async fn call(ports: &FakeApiPorts, method: &str, id: &str) -> (u16, Value) {
        let request = gateway_request(method, "/triggers/{id}", &format!("/triggers/{id}"), "", &[]);
        let call = signed_call(&request);
        let answer = match method {
            "GET" => show_trigger(ports, &call).await,
            _ => delete_trigger(ports, &call).await,
        };
        answer_of(answer).await
    }

    #[tokio::test]
    async fn a_trigger_is_shown_then_deleted_and_watches_nothing() {
        let ports = FakeApiPorts::default();
        let mut form: Value = serde_json::from_str(&form_json("nightly")).unwrap();
        form["trigger"] = json!({"on_new_data": true});
        let request = gateway_request("POST", "/jobs", "/jobs", &form.to_string(), &[]);
        let created = json_body(&submit(&ports, &signed_call(&request)).await.unwrap());
        let id = created["trigger_id"].as_str().unwrap().to_owned();

        let (status, shown) = call(&ports, "GET", &id).await;
        assert_eq!(
            (status, shown["state"].as_str()),
            (200, Some("ENABLED")),
            "{shown}"
        );
        assert_eq!(shown["watches"], json!(["s3://data-bucket/interactions.csv"]));
        assert_eq!(
            (shown["quiet_seconds"].as_u64(), shown["last_runs"].clone()),
            (Some(60), json!([]))
        );

        let (status, deleted) = call(&ports, "DELETE", &id).await;
        assert_eq!(
            (status, deleted["state"].as_str()),
            (200, Some("DELETED")),
            "{deleted}"
        );
        assert!(ports
            .triggers
            .watches
            .lock()
            .unwrap()
            .values()
            .all(|ids| ids.is_empty()));
        assert_eq!(call(&ports, "DELETE", &id).await.0, 200, "again: the same");

        for method in ["GET", "DELETE"] {
            let (status, body) = call(&ports, method, "nope").await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("TriggerNotFound"))
            );
        }
    }
}
