//! `GET /result-sets/{result_set}?limit=50&next=<version>`: the version it serves and how old
//! that is, its versions newest first (state, metrics, gate, who promoted them), its last job,
//! and, where CloudWatch has them, the last hour's answers by source.

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::ports::VersionStore;
use serde_json::json;

use crate::call::Call;
use crate::paging::page_asked;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::{is_version_id, result_set_now, result_set_param};
use crate::serving_metrics::answers_last_hour;
use crate::version_views::{CurrentView, ResultSetSummary, VersionView};

/// Versions on one page, unless `limit` says otherwise: enough for the page's charts.
const DEFAULT_PAGE: u32 = 50;

pub async fn show_result_set<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let decode = |next: &str| is_version_id(next).then(|| next.to_owned());
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, decode)?;
    let now = result_set_now(ports, result_set).await?;
    let (records, next) = ports
        .lists()
        .versions(result_set, limit, after.as_deref())
        .await
        .map_err(ApiError::service)?;
    let clock = ports.clock();
    let now_unix = clock.unix_now();
    let versions: Vec<VersionView> = records
        .iter()
        .map(|record| VersionView::of(record, now.current(), now_unix))
        .collect();
    let current = CurrentView::of(now.pointer.as_ref(), |at| clock.seconds_since(at));
    let mut answer = json!(ResultSetSummary::of(result_set, now.entry.as_ref(), current));
    answer["versions"] = json!(versions);
    answer["next"] = json!(next);
    if let Some(answers) = answers_last_hour(ports.metrics(), result_set, now_unix).await {
        answer["answers_last_hour"] = json!(answers);
    }
    Ok(json_response(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use recoflow_core::ports::MetricId;
    use recoflow_core::versions::Decision;
    use serde_json::Value;

    use super::*;
    use crate::fake::*;
    use crate::serving_metrics::{ANSWERS, NAMESPACE};

    async fn get(ports: &FakeApiPorts, path: &str) -> (u16, Value) {
        let request = gateway_request("GET", "/result-sets/{result_set}", path, "", &[]);
        answer_of(show_result_set(ports, &signed_call(&request)).await).await
    }

    fn states(body: &Value) -> Vec<(&str, &str)> {
        body["versions"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| (v["version"].as_str().unwrap(), v["state"].as_str().unwrap()))
            .collect()
    }

    #[tokio::test]
    async fn versions_are_shown_newest_first_with_their_state_metrics_and_gate() {
        let ports = with_versions();
        let (status, body) = get(&ports, "/result-sets/spring").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["result_set"], RS);
        assert_eq!(body["current_version"], V2);
        assert_eq!(body["previous_version"], V1);
        assert_eq!(body["version_age_seconds"], 3_600);
        assert_eq!(
            body["last_job"],
            serde_json::json!({"job_id": "job-3", "status": "HELD"})
        );
        assert_eq!(states(&body), [(V3, "HELD"), (V2, "CURRENT"), (V1, "SUPERSEDED")]);
        let held = &body["versions"][0];
        assert_eq!(held["job_id"], "job-3");
        assert_eq!(held["published_at"], Value::Null);
        assert_eq!(held["gate"]["passed"], false);
        assert_eq!(held["metrics"]["users_personalized"], 100);
        assert_eq!(held["metrics"]["catalog_coverage"], 0.4);
        assert_eq!(held["promoted_by"], Value::Null);
        assert!(
            held.get("pk").is_none() && held.get("version_of").is_none(),
            "internal fields stay in"
        );
        assert!(
            body.get("answers_last_hour").is_none(),
            "CloudWatch has no data: not shown"
        );
        assert_eq!(body["next"], Value::Null);
    }

    #[tokio::test]
    async fn discarded_and_expired_versions_say_so_and_promotions_show_who_and_why() {
        let ports = with_versions();
        {
            let mut versions = ports.lists.versions.lock().unwrap();
            let v3 = versions.get_mut(&(RS.to_owned(), V3.to_owned())).unwrap();
            v3.discarded = Some(Decision {
                by: "ana".into(),
                at: "t1".into(),
                reason: None,
            });
            let v1 = versions.get_mut(&(RS.to_owned(), V1.to_owned())).unwrap();
            v1.version_expires_at = ports.clock.unix_now() - 1;
            let v2 = versions.get_mut(&(RS.to_owned(), V2.to_owned())).unwrap();
            v2.promoted = Some(Decision {
                by: "ben".into(),
                at: "t2".into(),
                reason: Some("back to V2".into()),
            });
        }
        let (_, body) = get(&ports, "/result-sets/spring").await;
        assert_eq!(
            states(&body),
            [(V3, "DISCARDED"), (V2, "CURRENT"), (V1, "EXPIRED")]
        );
        assert_eq!(
            body["versions"][0]["discarded"],
            serde_json::json!({"by": "ana", "at": "t1"})
        );
        let v2 = &body["versions"][1];
        assert_eq!(
            (&v2["promoted_by"], &v2["promoted_at"], &v2["reason"]),
            (&"ben".into(), &"t2".into(), &"back to V2".into())
        );
    }

    #[tokio::test]
    async fn versions_come_a_page_at_a_time() {
        let ports = with_versions();
        let (_, first) = get(&ports, "/result-sets/spring?limit=2").await;
        assert_eq!(states(&first), [(V3, "HELD"), (V2, "CURRENT")]);
        assert_eq!(first["next"], V2);
        let (_, rest) = get(&ports, &format!("/result-sets/spring?limit=2&next={V2}")).await;
        assert_eq!(states(&rest), [(V1, "SUPERSEDED")]);
        assert_eq!(rest["next"], Value::Null);
        for query in ["next=..%2F", "limit=0", "colour=red"] {
            let (status, body) = get(&ports, &format!("/result-sets/spring?{query}")).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (400, Some("InvalidParameter")),
                "{query}"
            );
        }
    }

    #[tokio::test]
    async fn the_last_hour_s_answers_by_source_are_shown_when_cloudwatch_has_them() {
        let ports = with_versions();
        let by_source = |source: &str| MetricId {
            namespace: NAMESPACE.into(),
            name: ANSWERS.into(),
            dimensions: vec![("ResultSet".into(), RS.into()), ("Source".into(), source.into())],
        };
        ports
            .metrics
            .sums
            .lock()
            .unwrap()
            .extend([(by_source("personalized"), 9.0), (by_source("segment"), 1.0)]);
        let (_, body) = get(&ports, "/result-sets/spring").await;
        let answers = &body["answers_last_hour"];
        assert_eq!(answers["window_seconds"], 3_600);
        assert_eq!(answers["total"], 10.0);
        assert_eq!(answers["sources"]["personalized"]["share"], 0.9);
        assert_eq!(answers["sources"]["global"]["answers"], 0.0);
        *ports.metrics.unavailable.lock().unwrap() = true;
        let (status, body) = get(&ports, "/result-sets/spring").await;
        assert_eq!(status, 200, "CloudWatch's trouble never fails the route");
        assert!(body.get("answers_last_hour").is_none());
    }

    #[tokio::test]
    async fn unknown_and_malformed_result_sets_are_404() {
        let ports = with_versions();
        for path in ["/result-sets/autumn", "/result-sets/..", "/result-sets/UPPER"] {
            let (status, body) = get(&ports, path).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some("ResultSetNotFound")),
                "{path}"
            );
        }
    }
}
