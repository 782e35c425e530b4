//! `GET /result-sets?limit=20&next=<result set>`: the result sets by name, a page at a time,
//! each with the version it serves, how old that is, and its last job.

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::ports::{RecommendationStore, VersionStore};
use serde_json::json;

use crate::call::Call;
use crate::paging::page_asked;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::is_result_set_name;
use crate::version_views::{CurrentView, ResultSetSummary};

/// Result sets on one page, unless `limit` says otherwise.
const DEFAULT_PAGE: u32 = 20;

pub async fn list_result_sets<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let decode = |next: &str| is_result_set_name(next).then(|| next.to_owned());
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, decode)?;
    let (entries, next) = ports
        .lists()
        .entries(limit, after.as_deref())
        .await
        .map_err(ApiError::service)?;
    // One read per result set on the page (at most `MAX_PAGE`), afresh: a list an operator
    // acts on shows what serves now.
    let mut pointers = Vec::with_capacity(entries.len());
    for entry in &entries {
        let pointer = ports
            .lists()
            .pointer(&entry.result_set)
            .await
            .map_err(ApiError::service)?;
        pointers.push(pointer);
    }
    let age = |at: &str| ports.clock().seconds_since(at);
    let result_sets: Vec<ResultSetSummary> = entries
        .iter()
        .zip(&pointers)
        .map(|(entry, pointer)| {
            ResultSetSummary::of(
                &entry.result_set,
                Some(entry),
                CurrentView::of(pointer.as_ref(), age),
            )
        })
        .collect();
    Ok(json_response(
        StatusCode::OK,
        &json!({ "result_sets": result_sets, "next": next }),
    ))
}

#[cfg(test)]
mod tests {
    use recoflow_core::versions::{keys, LastJob, ResultSetEntry, RESULT_SET_LISTING};
    use serde_json::Value;

    use super::*;
    use crate::fake::*;

    async fn get(ports: &FakeApiPorts, path: &str) -> (u16, Value) {
        let request = gateway_request("GET", "/result-sets", path, "", &[]);
        answer_of(list_result_sets(ports, &signed_call(&request)).await).await
    }

    #[tokio::test]
    async fn result_sets_are_listed_by_name_with_what_they_serve() {
        let ports = with_versions();
        for name in ["autumn", "winter"] {
            let entry = ResultSetEntry {
                pk: keys::result_set_entry(name),
                listing: RESULT_SET_LISTING.into(),
                result_set: name.into(),
                last_job: LastJob {
                    job_id: recoflow_core::job::JobId::parse("job-9").unwrap(),
                    status: recoflow_core::job::JobStatus::Delivering,
                },
                expect_refresh_hours: None,
                stale_alert_for: None,
            };
            ports.lists.entries.lock().unwrap().insert(name.into(), entry);
        }
        let (status, body) = get(&ports, "/result-sets?limit=2").await;
        assert_eq!(status, 200, "{body}");
        let autumn = &body["result_sets"][0];
        assert_eq!(autumn["result_set"], "autumn");
        assert_eq!(autumn["current_version"], Value::Null, "nothing published yet");
        assert_eq!(autumn["version_age_seconds"], Value::Null);
        assert_eq!(autumn["last_job"]["status"], "DELIVERING");
        let spring = &body["result_sets"][1];
        assert_eq!(spring["current_version"], V2);
        assert_eq!(spring["version_age_seconds"], 3_600);
        assert_eq!(spring["last_job"]["job_id"], "job-3");
        assert_eq!(spring["expect_refresh_hours"], 24.0);
        assert_eq!(body["next"], "spring");

        let (_, rest) = get(&ports, "/result-sets?limit=2&next=spring").await;
        let names: Vec<&str> = rest["result_sets"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r["result_set"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["winter"]);
        assert_eq!(rest["next"], Value::Null);
        for query in ["next=NOT%20A%20NAME", "limit=101", "page=2"] {
            let (status, body) = get(&ports, &format!("/result-sets?{query}")).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("InvalidParameter")),
                "{query}"
            );
        }
    }
}
