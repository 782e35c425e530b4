//! `GET /triggers?limit=20&next=<cursor>`: the data-driven forms' triggers, newest first, each
//! with its state, the files it watches and its last run.

use lambda_http::http::StatusCode;
use recoflow_core::trigger::ports::TriggerStore;
use recoflow_core::trigger::{TriggerId, TriggerRecord};
use serde_json::{json, Value};

use crate::call::Call;
use crate::paging::{created_at_cursor, page_asked};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};

const DEFAULT_PAGE: u32 = 20;

/// A cursor this listing gave out: `<created_at>~<trigger id>`.
fn cursor(next: &str) -> Option<String> {
    created_at_cursor(next, |id| TriggerId::parse(id).is_some())
}

pub async fn list_triggers<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, cursor)?;
    let (records, next) = ports
        .triggers()
        .recent(limit, after.as_deref())
        .await
        .map_err(ApiError::service)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "triggers": records.iter().map(summary).collect::<Vec<_>>(),
            "next": next,
        }),
    ))
}

/// A trigger in the list: `GET /triggers/{id}` shows its form and runs.
fn summary(record: &TriggerRecord) -> Value {
    json!({
        "trigger_id": record.trigger_id,
        "state": record.state,
        "job_name": record.form.job_name,
        "result_set": record.form.result_set,
        "quiet_seconds": record.settings().quiet_seconds,
        "watches": record.watched_uris(),
        "created_at": record.created_at,
        "runs": record.runs.len(),
        "last_run": record.runs.last().map(|run| json!({"job_id": run.job_id, "at": run.at})),
    })
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    use super::*;
    use crate::fake::*;
    use crate::submit::submit;

    async fn created(ports: &FakeApiPorts, name: &str) -> String {
        let mut form: Value = serde_json::from_str(&form_json(name)).unwrap();
        form["trigger"] = json!({"on_new_data": true, "quiet_seconds": 30});
        let request = gateway_request("POST", "/jobs", "/jobs", &form.to_string(), &[]);
        let answer = json_body(&submit(ports, &signed_call(&request)).await.unwrap());
        answer["trigger_id"].as_str().unwrap().to_owned()
    }

    async fn list(ports: &FakeApiPorts, query: &str) -> (u16, Value) {
        let request = gateway_request("GET", "/triggers", &format!("/triggers{query}"), "", &[]);
        answer_of(list_triggers(ports, &signed_call(&request)).await).await
    }

    #[tokio::test]
    async fn triggers_are_listed_newest_first_a_page_at_a_time() {
        let ports = FakeApiPorts::default();
        let first = created(&ports, "nightly").await;
        ports.clock.advance(std::time::Duration::from_secs(60));
        let second = created(&ports, "hourly").await;

        let (status, page) = list(&ports, "?limit=1").await;
        assert_eq!(status, 200, "{page}");
        let triggers = page["triggers"].as_array().unwrap();
        assert_eq!(triggers.len(), 1);
        assert_eq!(triggers[0]["trigger_id"], second.as_str());
        assert_eq!(triggers[0]["state"], "ENABLED");
        assert_eq!(triggers[0]["quiet_seconds"], 30);
        assert_eq!(triggers[0]["runs"], 0);
        assert!(triggers[0]["last_run"].is_null());
        assert!(!triggers[0]["watches"].as_array().unwrap().is_empty());

        let next = page["next"].as_str().unwrap();
        let (status, rest) = list(&ports, &format!("?next={next}")).await;
        assert_eq!(status, 200, "{rest}");
        let ids: Vec<&str> = rest["triggers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["trigger_id"].as_str().unwrap())
            .collect();
        assert_eq!(ids, [first.as_str()]);
        assert!(rest["next"].is_null());
    }

    #[tokio::test]
    async fn a_cursor_it_never_gave_out_is_refused() {
        let ports = FakeApiPorts::default();
        let (status, body) = list(&ports, "?next=not-a-cursor").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("InvalidParameter"))
        );
    }
}
