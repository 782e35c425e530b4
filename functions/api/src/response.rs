//! Every answer's shape. Success: the route's JSON. Failure, on every route:
//! `{"error": {"code", "message", "problems"?}}`, the code one of [`ErrorCode`] and the HTTP
//! status the code's own.

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use recoflow_core::validation::FormProblem;
use serde::Serialize;
use serde_json::json;
use strum::{EnumIter, IntoStaticStr};
use tracing::error;

/// The error codes clients see. The variant's name is the code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, IntoStaticStr)]
pub enum ErrorCode {
    /// The form breaks the schema or the deployment's rules; `problems` lists each.
    InvalidForm,
    FormTooLarge,
    InvalidIdempotencyKey,
    /// The Idempotency-Key was used before for a different form.
    IdempotencyKeyReused,
    JobNotFound,
    /// No schedule has this id (or it was deleted).
    ScheduleNotFound,
    /// No trigger has this id.
    TriggerNotFound,
    /// Only a running job can be cancelled.
    JobFinished,
    /// A running job cannot be retried (cancel it, or wait for its end).
    JobRunning,
    /// The job cannot be retried as asked (it never ran, it succeeded without `from_phase`, or
    /// a phase before `from_phase` did not finish); the message says which.
    NotRetryable,
    /// A path or query parameter; the message starts with its name.
    InvalidParameter,
    ResultSetNotFound,
    /// The result set's current version is past its expiry.
    ResultSetExpired,
    /// The result set has no such version (or its record is gone).
    VersionNotFound,
    /// The version's lists have expired: it can no longer be served.
    VersionExpired,
    /// The version's job did not finish writing it: it cannot be served.
    VersionIncomplete,
    /// The version was discarded: it is never served.
    VersionDiscarded,
    /// The version is current already: nothing changed.
    AlreadyCurrent,
    /// Only a held version can be discarded.
    NotHeld,
    /// The current version replaced none: there is nothing to roll back to.
    NoPreviousVersion,
    /// The pointer changed while the call was deciding: nothing changed, look again and retry.
    PointerMoved,
    /// A promotion says why (`{"reason": "..."}`).
    ReasonRequired,
    /// The placement breaks its schema or rules; `problems` lists each.
    InvalidPlacement,
    PlacementTooLarge,
    PlacementNotFound,
    /// Other writes of the placement kept coming first: nothing changed, read it and retry.
    PlacementChanged,
    /// The body of `POST /events` is not `{"events": [...]}` with at least one event.
    InvalidEvents,
    /// More than 500 events in one request.
    TooManyEvents,
    /// More than 1 MiB of events in one request.
    EventsTooLarge,
    /// A service recoflow needs did not answer; nothing was lost.
    ServiceUnavailable,
    /// The web page's token parameter is empty.
    PageNotConfigured,
    Unauthorized,
    RouteNotFound,
    MethodNotAllowed,
}

impl ErrorCode {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn status(self) -> StatusCode {
        match self {
            Self::InvalidForm
            | Self::InvalidIdempotencyKey
            | Self::InvalidParameter
            | Self::ReasonRequired
            | Self::InvalidPlacement
            | Self::InvalidEvents => StatusCode::BAD_REQUEST,
            Self::FormTooLarge | Self::PlacementTooLarge | Self::TooManyEvents | Self::EventsTooLarge => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Self::IdempotencyKeyReused
            | Self::JobFinished
            | Self::JobRunning
            | Self::NotRetryable
            | Self::VersionExpired
            | Self::VersionIncomplete
            | Self::VersionDiscarded
            | Self::AlreadyCurrent
            | Self::NotHeld
            | Self::NoPreviousVersion
            | Self::PointerMoved
            | Self::PlacementChanged => StatusCode::CONFLICT,
            Self::JobNotFound
            | Self::ScheduleNotFound
            | Self::TriggerNotFound
            | Self::ResultSetNotFound
            | Self::VersionNotFound
            | Self::PlacementNotFound
            | Self::RouteNotFound => StatusCode::NOT_FOUND,
            Self::ResultSetExpired => StatusCode::GONE,
            Self::ServiceUnavailable | Self::PageNotConfigured => StatusCode::SERVICE_UNAVAILABLE,
            Self::Unauthorized => StatusCode::UNAUTHORIZED,
            Self::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
        }
    }
}

/// A refused or failed request, answered in the one error shape.
#[derive(Debug)]
pub struct ApiError {
    pub code: ErrorCode,
    pub message: String,
    /// Every problem found (a form's), so the client can fix them at once.
    pub problems: Option<Vec<FormProblem>>,
}

/// What a route answers: its JSON, or the error the dispatcher renders.
pub type RouteResult = Result<Response<Body>, ApiError>;

impl ApiError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
            problems: None,
        }
    }

    pub fn with_problems(code: ErrorCode, message: impl Into<String>, problems: Vec<FormProblem>) -> Self {
        Self {
            problems: Some(problems),
            ..Self::new(code, message)
        }
    }

    /// A path or query parameter that cannot be used: `<name>: <problem>`.
    pub fn invalid_parameter(name: &str, problem: &str) -> Self {
        Self::new(ErrorCode::InvalidParameter, format!("{name}: {problem}"))
    }

    /// No job has this id (or it is no job id at all: the same answer, so ids cannot be
    /// probed).
    pub fn job_not_found(id: &str) -> Self {
        Self::new(ErrorCode::JobNotFound, format!("no job has the id \"{id}\""))
    }

    /// A service call failed: logged with its cause, answered without it.
    pub fn service(err: impl std::fmt::Display) -> Self {
        error!(error = %err, "service call failed");
        Self::new(
            ErrorCode::ServiceUnavailable,
            "recoflow could not reach a service it needs; nothing was lost, try again shortly",
        )
    }

    pub fn response(&self) -> Response<Body> {
        let mut error = json!({ "code": self.code.as_str(), "message": self.message });
        if let Some(problems) = &self.problems {
            error["problems"] = json!(problems);
        }
        json_response(self.code.status(), &json!({ "error": error }))
    }
}

pub fn json_response(status: StatusCode, body: &impl Serialize) -> Response<Body> {
    // What is answered has string keys only, so it always serialises.
    let text = serde_json::to_string(body).unwrap_or_else(|_| "null".to_owned());
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(text))
        .expect("a response from a status, one header and a body is valid")
}

#[cfg(test)]
mod tests {
    use strum::IntoEnumIterator;

    use super::*;

    fn body(response: &Response<Body>) -> serde_json::Value {
        assert_eq!(response.headers()["content-type"], "application/json");
        let Body::Text(text) = response.body() else {
            panic!("not a text body")
        };
        serde_json::from_str(text).unwrap()
    }

    #[test]
    fn every_error_is_a_client_or_service_error_in_the_one_shape() {
        for code in ErrorCode::iter() {
            let status = code.status();
            assert!(
                status.is_client_error() || status == StatusCode::SERVICE_UNAVAILABLE,
                "{code:?}"
            );
            let response = ApiError::new(code, "why").response();
            assert_eq!(response.status(), status);
            assert_eq!(
                body(&response),
                json!({"error": {"code": code.as_str(), "message": "why"}})
            );
        }
        let problem = FormProblem {
            path: "$.job_name".into(),
            code: "required".into(),
            message: "job_name is required".into(),
        };
        let refused = ApiError::with_problems(ErrorCode::InvalidForm, "1 problem", vec![problem.clone()]);
        assert_eq!(body(&refused.response())["error"]["problems"], json!([problem]));
    }
}
