//! `GET /schedules/{id}`: one schedule whole (form, state, next firings, last runs and their jobs).

use lambda_http::http::StatusCode;
use recoflow_core::ports::ScheduleStore;
use recoflow_core::schedule::{instant_now, ScheduleId, ScheduleRecord, ScheduleState};

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};
use crate::schedule_views::ScheduleView;

/// No schedule has this id (or it is no schedule id, or the schedule was deleted: the same
/// answer).
pub fn schedule_not_found(id: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ScheduleNotFound,
        format!("no schedule has the id \"{id}\""),
    )
}

/// The id of the route's `{id}`, or 404.
pub fn schedule_id(call: &Call<'_>) -> Result<ScheduleId, ApiError> {
    let id = call.path_parameter("id");
    ScheduleId::parse(id).ok_or_else(|| schedule_not_found(id))
}

/// The view of a schedule, answered with `status`.
pub async fn view_response<P: ApiPorts>(
    ports: &P,
    record: &ScheduleRecord,
    status: StatusCode,
) -> RouteResult {
    let view = ScheduleView::read(record, ports.jobs(), instant_now(ports.clock()))
        .await
        .map_err(ApiError::service)?;
    Ok(json_response(status, &view))
}

pub async fn show_schedule<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = schedule_id(call)?;
    let record = ports.schedules().get(&id).await.map_err(ApiError::service)?;
    let record = record
        .filter(|r| r.state != ScheduleState::Deleted)
        .ok_or_else(|| schedule_not_found(id.as_str()))?;
    view_response(ports, &record, StatusCode::OK).await
}

#[cfg(test)]
mod tests {
    use lambda_http::{Body, Response};
    use serde_json::{json, Value};

    use super::*;
    use crate::fake::*;
    use crate::handler::handle;

    fn recurring_form(schedule: Value) -> String {
        let mut form: Value = serde_json::from_str(&form_json("nightly-spring")).unwrap();
        form["schedule"] = schedule;
        form.to_string()
    }

    async fn call(
        ports: &FakeApiPorts,
        method: &str,
        resource: &str,
        path: &str,
        body: &str,
    ) -> Response<Body> {
        handle(
            ports,
            gateway_request(method, resource, path, body, &[("Idempotency-Key", "k-s")]),
        )
        .await
    }

    #[tokio::test]
    async fn a_recurring_form_is_a_schedule_listed_shown_paused_and_deleted() {
        let ports = FakeApiPorts::default();
        let form = recurring_form(json!({"expression": "cron(0 3 ? * MON *)", "timezone": "Asia/Tokyo"}));
        let created = call(&ports, "POST", "/jobs", "/jobs", &form).await;
        assert_eq!(created.status(), StatusCode::CREATED);
        let body = json_body(&created);
        let id = body["schedule_id"].as_str().unwrap().to_owned();
        assert_eq!(body["status_path"], format!("/schedules/{id}"));
        let runs = body["next_runs"].as_array().unwrap();
        assert_eq!(runs.len(), 5);
        assert!(
            runs[0]["utc"].as_str().unwrap().ends_with("T18:00:00Z"),
            "{runs:?}"
        );
        assert!(
            runs[0]["local"].as_str().unwrap().ends_with("T03:00:00+09:00"),
            "{runs:?}"
        );
        assert!(ports.jobs.all().is_empty() && ports.executions.started.lock().unwrap().is_empty());
        assert!(ports.scheduler.schedule(&id).unwrap().enabled);
        // The same submission again: the same schedule.
        let again = call(&ports, "POST", "/jobs", "/jobs", &form).await;
        assert_eq!(
            (again.status(), json_body(&again)["schedule_id"].as_str()),
            (StatusCode::OK, Some(id.as_str()))
        );

        let listed = json_body(&call(&ports, "GET", "/schedules", "/schedules", "").await);
        assert_eq!(listed["schedules"][0]["schedule_id"], id.as_str());
        assert_eq!(listed["schedules"][0]["next_run"], runs[0]);
        let path = format!("/schedules/{id}");
        let shown = json_body(&call(&ports, "GET", "/schedules/{id}", &path, "").await);
        assert_eq!(
            (shown["state"].as_str(), shown["form"]["job_name"].as_str()),
            (Some("ENABLED"), Some("nightly-spring"))
        );
        assert_eq!(shown["last_runs"], json!([]));

        let paused = call(
            &ports,
            "PATCH",
            "/schedules/{id}",
            &path,
            r#"{"state": "PAUSED"}"#,
        )
        .await;
        assert_eq!(paused.status(), StatusCode::OK);
        assert_eq!(json_body(&paused)["state"], "PAUSED");
        assert_eq!(json_body(&paused)["next_runs"], json!([]));
        assert!(!ports.scheduler.schedule(&id).unwrap().enabled);
        for bad in [
            r#"{"state": "STOPPED"}"#,
            r#"{"state": "PAUSED", "x": 1}"#,
            "nonsense",
        ] {
            let refused = call(&ports, "PATCH", "/schedules/{id}", &path, bad).await;
            assert_eq!(json_body(&refused)["error"]["code"], "InvalidParameter", "{bad}");
        }
        let deleted = call(&ports, "DELETE", "/schedules/{id}", &path, "").await;
        assert_eq!(
            (deleted.status(), json_body(&deleted)["state"].as_str()),
            (StatusCode::OK, Some("DELETED"))
        );
        assert!(ports.scheduler.schedule(&id).is_none());
        for (method, body) in [("GET", ""), ("PATCH", r#"{"state": "ENABLED"}"#)] {
            let gone = call(&ports, method, "/schedules/{id}", &path, body).await;
            assert_eq!(json_body(&gone)["error"]["code"], "ScheduleNotFound", "{method}");
        }
        let listed = json_body(&call(&ports, "GET", "/schedules", "/schedules", "").await);
        assert_eq!(listed["schedules"], json!([]));
    }

    #[tokio::test]
    async fn a_bad_schedule_block_is_400_naming_each_field() {
        let ports = FakeApiPorts::default();
        let form = recurring_form(json!({
            "expression": "cron(61 3 * * ? *)", "timezone": "Asia/Tokio",
            "start": "2030-06-02T00:00:00Z", "end": "2030-06-01T00:00:00Z", "overlap": "sometimes"
        }));
        let refused = call(&ports, "POST", "/jobs", "/jobs", &form).await;
        assert_eq!(refused.status(), StatusCode::BAD_REQUEST);
        let problems = json_body(&refused)["error"]["problems"].clone();
        let found: Vec<(&str, &str)> = problems
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["path"].as_str().unwrap(), p["code"].as_str().unwrap()))
            .collect();
        // An overlap outside the enum is the schema's; the block's other rules wait for it.
        assert_eq!(found, [("$.schedule.overlap", "invalid_choice")]);
        let form = recurring_form(json!({
            "expression": "cron(61 3 * * ? *)", "timezone": "Asia/Tokio",
            "start": "2030-06-02T00:00:00Z", "end": "2030-06-01T00:00:00Z"
        }));
        let problems =
            json_body(&call(&ports, "POST", "/jobs", "/jobs", &form).await)["error"]["problems"].clone();
        let paths: Vec<&str> = problems
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["path"].as_str().unwrap())
            .collect();
        assert_eq!(
            paths,
            ["$.schedule.end", "$.schedule.expression", "$.schedule.timezone"]
        );
        assert!(problems[1]["message"]
            .as_str()
            .unwrap()
            .contains("minutes value 61 is out of range 0-59"));
        let past = recurring_form(json!({"expression": "rate(1 day)", "start": "2020-01-01T00:00:00Z"}));
        let problems =
            json_body(&call(&ports, "POST", "/jobs", "/jobs", &past).await)["error"]["problems"].clone();
        assert_eq!(problems[0]["code"], "in_the_past");
        assert!(ports.schedules.records.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn a_schedule_that_could_not_be_made_without_a_key_is_not_left_listed() {
        let ports = FakeApiPorts::default();
        *ports.scheduler.failing.lock().unwrap() = 1;
        let form = recurring_form(json!({"expression": "rate(1 hour)"}));
        let request = gateway_request("POST", "/jobs", "/jobs", &form, &[]);
        let failed = handle(&ports, request).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        let listed = json_body(&call(&ports, "GET", "/schedules", "/schedules", "").await);
        assert_eq!(listed["schedules"], json!([]));
    }
}
