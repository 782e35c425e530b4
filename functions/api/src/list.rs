//! `GET /jobs?limit=20&next=<cursor>`: the newest jobs first, a page at a time.

use lambda_http::http::StatusCode;
use recoflow_core::job::ListCursor;
use recoflow_core::ports::JobStore;
use serde_json::json;

use crate::call::Call;
use crate::paging::page_asked;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::views::JobSummary;

/// Jobs on one page, unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 20;

pub async fn list<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, ListCursor::decode)?;
    let (records, next) = ports
        .jobs()
        .recent(limit, after.as_ref())
        .await
        .map_err(ApiError::service)?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "jobs": records.iter().map(JobSummary::of).collect::<Vec<_>>(),
            "next": next.map(|c| c.encode()),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::fake::*;
    use crate::response::ErrorCode;
    use crate::submit::submit;

    async fn get(ports: &FakeApiPorts, path_and_query: &str) -> RouteResult {
        let request = gateway_request("GET", "/jobs", path_and_query, "", &[]);
        list(ports, &signed_call(&request)).await
    }

    #[tokio::test]
    async fn jobs_are_listed_newest_first_page_by_page() {
        let ports = FakeApiPorts::default();
        for i in 0..5 {
            let key = format!("k-list-{i}");
            let request = gateway_request(
                "POST",
                "/jobs",
                "/jobs",
                &form_json(&format!("job-{i}")),
                &[("Idempotency-Key", &key)],
            );
            submit(&ports, &signed_call(&request)).await.unwrap();
            ports.clock.advance(Duration::from_millis(2));
        }
        let body = json_body(&get(&ports, "/jobs?limit=3").await.unwrap());
        let names: Vec<&str> = body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["job-4", "job-3", "job-2"]);
        let next = body["next"].as_str().unwrap().to_owned();
        let body = json_body(&get(&ports, &format!("/jobs?limit=3&next={next}")).await.unwrap());
        assert_eq!(body["jobs"].as_array().unwrap().len(), 2);
        assert_eq!(body["next"], serde_json::Value::Null);
        for (query, name) in [
            ("next=garbage", "next"),
            ("cursor=x", "cursor"),
            ("limit=0", "limit"),
            ("limit=101", "limit"),
            ("limit=ten", "limit"),
        ] {
            let refused = get(&ports, &format!("/jobs?{query}")).await.unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidParameter, "{query}");
            let message = &refused.message;
            assert!(message.starts_with(&format!("{name}:")), "{query}: {message}");
        }
    }
}
