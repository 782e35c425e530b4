//! `POST /result-sets/{result_set}/versions/{version}/promote` with `{"reason": "..."}`: makes
//! a held or superseded version that has not expired the current one (see `version_switch`).

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::RouteResult;
use crate::result_set_lookup::{
    reason_given, result_set_now, result_set_param, version_param, version_record,
};
use crate::version_switch::make_current;

pub async fn promote<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let version = version_param(call, result_set)?;
    let reason = reason_given(call, true)?;
    let now = result_set_now(ports, result_set).await?;
    let record = version_record(ports, result_set, version).await?;
    make_current(ports, call, &now, record, reason).await
}

#[cfg(test)]
mod tests {
    use recoflow_core::clock::Clock;
    use recoflow_core::versions::Decision;
    use serde_json::Value;

    use super::*;
    use crate::fake::*;
    use crate::recommendations::recommend;

    const RESOURCE: &str = "/result-sets/{result_set}/versions/{version}/promote";

    async fn post(ports: &FakeApiPorts, result_set: &str, version: &str, body: &str) -> (u16, Value) {
        let path = format!("/result-sets/{result_set}/versions/{version}/promote");
        let request = gateway_request("POST", RESOURCE, &path, body, &[]);
        answer_of(promote(ports, &signed_call(&request)).await).await
    }

    /// The version `GET /recommendations/spring/u1` serves.
    async fn served(ports: &FakeApiPorts) -> String {
        let request = gateway_request(
            "GET",
            "/recommendations/{result_set}/{user_id}",
            "/recommendations/spring/u1",
            "",
            &[],
        );
        let response = recommend(ports, &signed_call(&request)).await.unwrap();
        json_body(&response)["version"].as_str().unwrap().to_owned()
    }

    #[tokio::test]
    async fn a_held_version_is_made_current_with_who_when_and_why() {
        let ports = with_versions();
        assert_eq!(served(&ports).await, V2);
        let (status, body) = post(
            &ports,
            RS,
            V3,
            r#"{"reason": "the smaller users file was intended"}"#,
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["current_version"], &body["previous_version"]),
            (&V3.into(), &V2.into())
        );
        assert_eq!(body["version"]["state"], "CURRENT");

        let pointer = current_pointer(&ports).unwrap();
        assert_eq!(
            (pointer.version.as_str(), pointer.previous_version.as_deref()),
            (V3, Some(V2))
        );
        assert_eq!(pointer.job_id.as_str(), "job-3");
        assert_eq!(
            (pointer.num_results, pointer.users, pointer.segments),
            (7, 20, 3),
            "from the job's form and delivery"
        );
        let now = ports.clock.rfc3339_now();
        assert_eq!(pointer.published_at, now, "first published now");
        let record = stored_version(&ports, V3);
        assert_eq!(record.published_at.as_deref(), Some(now.as_str()));
        assert_eq!(
            record.promoted,
            Some(Decision {
                by: SIGNED_CALLER.into(),
                at: now,
                reason: Some("the smaller users file was intended".into())
            })
        );
        assert_eq!(served(&ports).await, V3, "this instance serves it at once");
    }

    #[tokio::test]
    async fn a_version_not_wholly_written_is_refused_and_banned_items_follow_a_promotion() {
        let ports = with_versions();
        let mut half = stored_version(&ports, V3);
        half.written_at = None;
        half.excluded_items = vec!["ng-1".into()];
        recoflow_core::ports::VersionStore::put_version(&ports.lists, &half)
            .await
            .unwrap();
        let (status, body) = post(&ports, RS, V3, r#"{"reason": "try"}"#).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("VersionIncomplete")),
            "{body}"
        );
        assert_eq!(served(&ports).await, V2, "nothing changed");

        half.written_at = Some("2026-12-01T00:10:00.000Z".into());
        recoflow_core::ports::VersionStore::put_version(&ports.lists, &half)
            .await
            .unwrap();
        let (status, body) = post(&ports, RS, V3, r#"{"reason": "try"}"#).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            current_pointer(&ports).unwrap().excluded_items,
            ["ng-1"],
            "the form's banned items"
        );
    }

    #[tokio::test]
    async fn a_superseded_version_comes_back_keeping_its_first_publication() {
        let ports = with_versions();
        let (status, body) = post(&ports, RS, V1, r#"{"reason": "V2 is broken"}"#).await;
        assert_eq!(status, 200, "{body}");
        let pointer = current_pointer(&ports).unwrap();
        assert_eq!(
            pointer.published_at, "2026-12-01T01:30:00.000Z",
            "its age is its data's"
        );
        assert_eq!(pointer.previous_version.as_deref(), Some(V2));
        assert_eq!(
            stored_version(&ports, V1).published_at.as_deref(),
            Some("2026-12-01T01:30:00.000Z")
        );
    }

    #[tokio::test]
    async fn a_promotion_without_a_reason_is_400_and_changes_nothing() {
        let ports = with_versions();
        for body in ["", "{}", r#"{"reason": "  "}"#, r#"{"reason": null}"#] {
            let (status, answer) = post(&ports, RS, V3, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (400, Some("ReasonRequired")),
                "{body:?}"
            );
        }
        let long = format!(r#"{{"reason": "{}"}}"#, "x".repeat(501));
        for (body, name) in [
            ("not json", "body"),
            ("[1]", "body"),
            (r#"{"reason": "x", "by": "me"}"#, "by"),
            (r#"{"reason": 3}"#, "reason"),
            (long.as_str(), "reason"),
        ] {
            let (status, answer) = post(&ports, RS, V3, body).await;
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (400, Some("InvalidParameter")),
                "{body:?}"
            );
            assert!(
                answer["error"]["message"].as_str().unwrap().starts_with(name),
                "{answer}"
            );
        }
        assert_eq!(current_pointer(&ports).unwrap().version, V2);
        assert_eq!(stored_version(&ports, V3).promoted, None);
    }

    #[tokio::test]
    async fn unknown_result_sets_and_versions_are_404() {
        let ports = with_versions();
        let reason = r#"{"reason": "r"}"#;
        for (result_set, version, code) in [
            ("autumn", V3, "ResultSetNotFound"),
            ("..", V3, "ResultSetNotFound"),
            (RS, "20261201T090000Z-00000009", "VersionNotFound"),
            (RS, "..%2Fpointer", "VersionNotFound"),
        ] {
            let (status, body) = post(&ports, result_set, version, reason).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (404, Some(code)),
                "{result_set} {version}"
            );
        }
    }

    #[tokio::test]
    async fn current_discarded_and_expired_versions_are_409_and_nothing_changes() {
        let ports = with_versions();
        {
            let mut versions = ports.lists.versions.lock().unwrap();
            let key = |v: &str| (RS.to_owned(), v.to_owned());
            versions.get_mut(&key(V3)).unwrap().discarded = Some(Decision {
                by: "ana".into(),
                at: "t".into(),
                reason: None,
            });
            versions.get_mut(&key(V1)).unwrap().version_expires_at = ports.clock.unix_now();
        }
        let before = current_pointer(&ports);
        for (version, code) in [
            (V2, "AlreadyCurrent"),
            (V3, "VersionDiscarded"),
            (V1, "VersionExpired"),
        ] {
            let (status, body) = post(&ports, RS, version, r#"{"reason": "r"}"#).await;
            assert_eq!(
                (status, body["error"]["code"].as_str()),
                (409, Some(code)),
                "{version}"
            );
        }
        assert_eq!(current_pointer(&ports), before);
    }
}
