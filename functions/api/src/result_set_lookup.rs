//! What the result-set routes share: their path parameters, the result set as it stands (its
//! pointer and entry, read afresh: these routes decide on them), a version's record, and the
//! reason a change gives.

use recoflow_core::delivery::Pointer;
use recoflow_core::ports::{RecommendationStore, VersionStore};
use recoflow_core::versions::{ResultSetEntry, VersionRecord};
use serde_json::Value;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode};

/// The longest reason a promotion or rollback keeps.
pub const MAX_REASON_CHARS: usize = 500;
const MAX_VERSION_CHARS: usize = 64;

/// A result set's name as forms give it (3 to 48 lower-case letters, digits, hyphens).
pub fn is_result_set_name(name: &str) -> bool {
    (3..=48).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// A version id (`20261201T081416Z-c5dd147e`): letters, digits and hyphens.
pub fn is_version_id(text: &str) -> bool {
    (1..=MAX_VERSION_CHARS).contains(&text.len())
        && text.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

pub fn result_set_not_found(result_set: &str) -> ApiError {
    ApiError::new(
        ErrorCode::ResultSetNotFound,
        format!("no result set \"{result_set}\" has been published"),
    )
}

pub fn version_not_found(result_set: &str, version: &str) -> ApiError {
    ApiError::new(
        ErrorCode::VersionNotFound,
        format!(
            "result set \"{result_set}\" has no version \"{version}\" (see GET /result-sets/{result_set})"
        ),
    )
}

/// The route's `{result_set}`; a name no result set can have is not found, like an unknown one.
pub fn result_set_param<'a>(call: &Call<'a>) -> Result<&'a str, ApiError> {
    let result_set = call.path_parameter("result_set");
    if is_result_set_name(result_set) {
        Ok(result_set)
    } else {
        Err(result_set_not_found(result_set))
    }
}

/// The route's `{version}`; likewise.
pub fn version_param<'a>(call: &Call<'a>, result_set: &str) -> Result<&'a str, ApiError> {
    let version = call.path_parameter("version");
    if is_version_id(version) {
        Ok(version)
    } else {
        Err(version_not_found(result_set, version))
    }
}

/// A result set as it stands: the version its pointer names and its entry.
pub struct ResultSetNow {
    pub name: String,
    pub pointer: Option<Pointer>,
    pub entry: Option<ResultSetEntry>,
}

impl ResultSetNow {
    pub fn current(&self) -> Option<&str> {
        self.pointer.as_ref().map(|p| p.version.as_str())
    }
}

/// The result set's pointer and entry; not found when it has neither (no job delivered to it).
pub async fn result_set_now<P: ApiPorts>(ports: &P, result_set: &str) -> Result<ResultSetNow, ApiError> {
    let pointer = ports
        .lists()
        .pointer(result_set)
        .await
        .map_err(ApiError::service)?;
    let entry = ports.lists().entry(result_set).await.map_err(ApiError::service)?;
    if pointer.is_none() && entry.is_none() {
        return Err(result_set_not_found(result_set));
    }
    Ok(ResultSetNow {
        name: result_set.to_owned(),
        pointer,
        entry,
    })
}

pub async fn version_record<P: ApiPorts>(
    ports: &P,
    result_set: &str,
    version: &str,
) -> Result<VersionRecord, ApiError> {
    ports
        .lists()
        .version(result_set, version)
        .await
        .map_err(ApiError::service)?
        .ok_or_else(|| version_not_found(result_set, version))
}

/// The body's `reason` (`{"reason": "..."}`, nothing else); a promotion must give one.
pub fn reason_given(call: &Call<'_>, required: bool) -> Result<Option<String>, ApiError> {
    let body = call.body();
    let reason = if body.iter().all(u8::is_ascii_whitespace) {
        None
    } else {
        let not_an_object =
            || ApiError::invalid_parameter("body", "must be a JSON object such as {\"reason\": \"...\"}");
        let Ok(Value::Object(fields)) = serde_json::from_slice::<Value>(body) else {
            return Err(not_an_object());
        };
        if let Some(name) = fields.keys().find(|name| *name != "reason") {
            return Err(ApiError::invalid_parameter(
                name,
                "unknown field; the body takes reason",
            ));
        }
        match fields.get("reason") {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) if text.trim().is_empty() => None,
            Some(Value::String(text)) => Some(text.trim().to_owned()),
            Some(_) => return Err(ApiError::invalid_parameter("reason", "must be text")),
        }
    };
    if let Some(reason) = &reason {
        if reason.chars().count() > MAX_REASON_CHARS || reason.chars().any(char::is_control) {
            let problem =
                format!("must be at most {MAX_REASON_CHARS} characters, without control characters");
            return Err(ApiError::invalid_parameter("reason", &problem));
        }
    }
    if required && reason.is_none() {
        return Err(ApiError::new(
            ErrorCode::ReasonRequired,
            "say why the version is promoted: a body {\"reason\": \"...\"}; nothing changed",
        ));
    }
    Ok(reason)
}
