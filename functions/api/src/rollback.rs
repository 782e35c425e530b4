//! `POST /result-sets/{result_set}/rollback` (optionally `{"reason": "..."}`): makes the
//! version that was current before the current one current again (the pointer's
//! `previous_version`), with the checks of a promotion.

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode, RouteResult};
use crate::result_set_lookup::{reason_given, result_set_now, result_set_param, version_record};
use crate::version_switch::make_current;

pub async fn rollback<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let reason = reason_given(call, false)?;
    let now = result_set_now(ports, result_set).await?;
    let Some(previous) = now.pointer.as_ref().and_then(|p| p.previous_version.clone()) else {
        let what = match now.current() {
            Some(current) => format!("its current version {current} replaced none"),
            None => "it serves no version".to_owned(),
        };
        return Err(ApiError::new(
            ErrorCode::NoPreviousVersion,
            format!("result set \"{result_set}\" has nothing to roll back to: {what}; nothing changed"),
        ));
    };
    let record = version_record(ports, result_set, &previous).await?;
    make_current(ports, call, &now, record, reason).await
}

#[cfg(test)]
mod tests {
    use recoflow_core::versions::Decision;
    use serde_json::Value;

    use super::*;
    use crate::fake::*;

    async fn post(ports: &FakeApiPorts, result_set: &str, body: &str) -> (u16, Value) {
        let path = format!("/result-sets/{result_set}/rollback");
        let request = gateway_request("POST", "/result-sets/{result_set}/rollback", &path, body, &[]);
        answer_of(rollback(ports, &signed_call(&request)).await).await
    }

    #[tokio::test]
    async fn a_rollback_returns_to_the_version_current_before_and_back_again() {
        let ports = with_versions();
        let (status, body) = post(&ports, RS, "").await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(
            (&body["current_version"], &body["previous_version"]),
            (&V1.into(), &V2.into())
        );
        let pointer = current_pointer(&ports).unwrap();
        assert_eq!(
            (pointer.version.as_str(), pointer.previous_version.as_deref()),
            (V1, Some(V2))
        );
        let promoted = stored_version(&ports, V1).promoted.unwrap();
        assert_eq!(
            (promoted.by.as_str(), promoted.reason),
            (SIGNED_CALLER, None),
            "a reason is optional"
        );

        let (_, body) = post(&ports, RS, r#"{"reason": "V1 was worse"}"#).await;
        assert_eq!(body["current_version"], V2);
        assert_eq!(
            stored_version(&ports, V2).promoted.unwrap().reason.as_deref(),
            Some("V1 was worse")
        );
    }

    #[tokio::test]
    async fn nothing_to_roll_back_to_is_409() {
        let ports = with_versions();
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .get_mut(RS)
            .unwrap()
            .previous_version = None;
        let (status, body) = post(&ports, RS, "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("NoPreviousVersion"))
        );
        // A result set whose jobs published nothing yet serves no version.
        ports.lists.pointers.lock().unwrap().clear();
        let (status, body) = post(&ports, RS, "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("NoPreviousVersion"))
        );
        let (status, body) = post(&ports, "autumn", "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("ResultSetNotFound"))
        );
    }

    #[tokio::test]
    async fn the_previous_version_must_still_be_servable() {
        let ports = with_versions();
        let key = (RS.to_owned(), V1.to_owned());
        ports
            .lists
            .versions
            .lock()
            .unwrap()
            .get_mut(&key)
            .unwrap()
            .discarded = Some(Decision {
            by: "ana".into(),
            at: "t".into(),
            reason: None,
        });
        assert_eq!(post(&ports, RS, "").await.1["error"]["code"], "VersionDiscarded");
        ports.lists.versions.lock().unwrap().remove(&key);
        assert_eq!(post(&ports, RS, "").await.1["error"]["code"], "VersionNotFound");
        assert_eq!(current_pointer(&ports).unwrap().version, V2);
        let (status, body) = post(&ports, RS, r#"{"why": "x"}"#).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("InvalidParameter"))
        );
    }
}
