//! The job API behind API Gateway (REST, proxy integration):
//! `POST /jobs` submits a form, `GET /jobs/{id}` shows a job with its status history.
//!
//! Every answer is JSON; errors share one shape:
//! `{"error": {"code": "...", "message": "...", "problems": [...]}}`.

use lambda_http::http::{Method, StatusCode};
use lambda_http::{Body, Request, Response};
use recoflow_core::form::MAX_FORM_BYTES;
use recoflow_core::job::{form_digest, now_rfc3339, JobFailure, JobId, JobRecord, JobSource, JobStatus};
use recoflow_core::ports::{Created, ExecutionStart, ExecutionStarter, JobStore, TransitionExtras};
use recoflow_core::validation::{too_large_problem, validate_form, FormProblem, ValidationRules};
use serde_json::{json, Value};
use tracing::{error, info, Instrument};

pub struct ApiDeps<J, E> {
    pub jobs: J,
    pub executions: E,
    pub rules: ValidationRules,
}

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

pub async fn handle<J: JobStore, E: ExecutionStarter>(
    deps: &ApiDeps<J, E>,
    request: Request,
) -> Response<Body> {
    let segments: Vec<&str> = request
        .uri()
        .path()
        .split('/')
        .filter(|s| !s.is_empty())
        .collect();
    // Tolerate a stage or base-path prefix: route on what follows the last "jobs".
    let route = segments
        .iter()
        .rposition(|s| *s == "jobs")
        .map(|i| &segments[i + 1..]);
    match (request.method(), route) {
        (&Method::POST, Some([])) => submit(deps, &request).await,
        (&Method::GET, Some([id])) => show(deps, id).await,
        (_, Some([])) | (_, Some([_])) => error_response(
            StatusCode::METHOD_NOT_ALLOWED,
            "MethodNotAllowed",
            &format!(
                "{} is not supported here; use POST /jobs or GET /jobs/{{id}}",
                request.method()
            ),
        ),
        _ => error_response(
            StatusCode::NOT_FOUND,
            "RouteNotFound",
            "no such resource; use POST /jobs or GET /jobs/{id}",
        ),
    }
}

async fn submit<J: JobStore, E: ExecutionStarter>(deps: &ApiDeps<J, E>, request: &Request) -> Response<Body> {
    let body: &[u8] = match request.body() {
        Body::Empty => b"",
        Body::Text(text) => text.as_bytes(),
        Body::Binary(bytes) => bytes,
        _ => b"",
    };
    if body.len() > MAX_FORM_BYTES {
        return problems_response(
            StatusCode::PAYLOAD_TOO_LARGE,
            "FormTooLarge",
            "the form is too large",
            vec![too_large_problem(body.len() as u64)],
        );
    }
    let idempotency_key = match request.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) if !key.is_empty() && key.chars().count() <= MAX_IDEMPOTENCY_KEY_CHARS => {
            Some(key.to_owned())
        }
        Some(_) => {
            return error_response(
                StatusCode::BAD_REQUEST,
                "InvalidIdempotencyKey",
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            )
        }
    };
    let form = match validate_form(body, &deps.rules) {
        Ok(form) => form,
        Err(problems) => {
            let message = format!("the form has {} problem(s); nothing was started", problems.len());
            return problems_response(StatusCode::BAD_REQUEST, "InvalidForm", &message, problems);
        }
    };
    let job_id = match &idempotency_key {
        Some(key) => JobId::for_idempotency_key(key),
        None => JobId::for_api_request(&uuid::Uuid::new_v4().to_string()),
    };
    let digest = form_digest(body);
    let retryable = idempotency_key.is_some();
    let record = JobRecord::queued(
        job_id.clone(),
        JobSource::Api { idempotency_key },
        form,
        digest.clone(),
        &now_rfc3339(),
    );
    let span = tracing::info_span!("submission", job_id = %job_id);
    async {
        // The status to report comes from the write itself: no second read of the record.
        let (status, replay, current) = match deps.jobs.create(&record).await {
            Ok(Created::New) => (StatusCode::ACCEPTED, false, record.status),
            Ok(Created::AlreadyExists(existing))
                if existing.form_digest.as_deref() == Some(digest.as_str()) =>
            {
                (StatusCode::OK, true, existing.status)
            }
            Ok(Created::AlreadyExists(_)) => {
                return error_response(
                    StatusCode::CONFLICT,
                    "IdempotencyKeyReused",
                    "this Idempotency-Key was already used for a different form; use a new key",
                )
            }
            Err(err) => return service_failure(&err),
        };
        // On a replay too: the first request may have stopped before starting the execution.
        let input = json!({ "job_id": job_id }).to_string();
        match deps.executions.start_execution(&job_id, &input).await {
            Ok(ExecutionStart::Started { execution_arn }) => {
                if let Err(err) = deps.jobs.set_execution_arn(&job_id, &execution_arn).await {
                    return service_failure(&err);
                }
                info!(execution_arn = %execution_arn, "job queued and execution started");
            }
            Ok(ExecutionStart::AlreadyExists) => info!("execution already exists; idempotent replay"),
            Err(err) => {
                // Without an idempotency key the client cannot retry this job: close it rather
                // than leave it QUEUED forever. With a key, the retry starts it.
                if !retryable {
                    let failure = JobFailure {
                        error: "ExecutionNotStarted".to_owned(),
                        cause: format!("{err}; submit the form again"),
                        state: JobStatus::Queued.to_string(),
                    };
                    let extras = TransitionExtras {
                        failure: Some(failure),
                    };
                    if let Err(mark) = deps
                        .jobs
                        .transition(
                            &job_id,
                            JobStatus::Failed,
                            "the execution could not be started",
                            extras,
                        )
                        .await
                    {
                        error!(error = %mark, "could not mark the unstarted job FAILED");
                    }
                }
                return service_failure(&err);
            }
        }
        let body = json!({
            "job_id": job_id,
            "status": current,
            "status_path": format!("/jobs/{job_id}"),
            "replayed": replay,
        });
        json_response(status, &body)
    }
    .instrument(span)
    .await
}

async fn show<J: JobStore, E>(deps: &ApiDeps<J, E>, id: &str) -> Response<Body> {
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            "JobNotFound",
            &format!("no job has the id \"{id}\""),
        )
    };
    let Some(job_id) = JobId::parse(id) else {
        return not_found();
    };
    match deps.jobs.get(&job_id).await {
        Ok(Some(record)) => json_response(StatusCode::OK, &job_view(&record)),
        Ok(None) => not_found(),
        Err(err) => service_failure(&err),
    }
}

/// What `GET /jobs/{id}` shows: the record without internal bookkeeping.
fn job_view(record: &JobRecord) -> Value {
    let mut view = serde_json::to_value(record).unwrap_or(Value::Null);
    if let Some(map) = view.as_object_mut() {
        map.remove("form_digest");
    }
    view
}

fn service_failure(err: &dyn std::fmt::Display) -> Response<Body> {
    error!(error = %err, "service call failed");
    error_response(
        StatusCode::SERVICE_UNAVAILABLE,
        "ServiceUnavailable",
        "recoflow could not reach a service it needs; nothing was lost, try again shortly",
    )
}

fn problems_response(
    status: StatusCode,
    code: &str,
    message: &str,
    problems: Vec<FormProblem>,
) -> Response<Body> {
    json_response(
        status,
        &json!({ "error": { "code": code, "message": message, "problems": problems } }),
    )
}

fn error_response(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    json_response(status, &json!({ "error": { "code": code, "message": message } }))
}

fn json_response(status: StatusCode, body: &Value) -> Response<Body> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .expect("a response from a status, one header and a body is valid")
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::{FakeExecutions, FakeJobStore};

    fn deps() -> ApiDeps<FakeJobStore, FakeExecutions> {
        ApiDeps {
            jobs: FakeJobStore::default(),
            executions: FakeExecutions::default(),
            rules: ValidationRules::from_allow_list("data-bucket"),
        }
    }

    fn form(job_name: &str) -> String {
        json!({
            "schema_version": 1,
            "job_name": job_name,
            "submitted_by": "ana@example.com",
            "result_set": "spring",
            "backend": "personalize",
            "dataset": {"interactions": "s3://data-bucket/interactions.csv"},
            "personalize": {"perform_hpo": false}
        })
        .to_string()
    }

    fn request(method: &str, path: &str, body: &str, key: Option<&str>) -> Request {
        let mut builder = lambda_http::http::Request::builder().method(method).uri(path);
        if let Some(key) = key {
            builder = builder.header("Idempotency-Key", key);
        }
        builder.body(Body::Text(body.to_owned())).unwrap()
    }

    fn json_body(response: &Response<Body>) -> Value {
        match response.body() {
            Body::Text(text) => serde_json::from_str(text).unwrap(),
            other => panic!("expected a JSON text body, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn valid_form_is_accepted_and_visible() {
        let deps = deps();
        let response = handle(&deps, request("POST", "/jobs", &form("spring-tokyo"), None)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body = json_body(&response);
        assert_eq!(body["status"], "QUEUED");
        let job_id = body["job_id"].as_str().unwrap().to_owned();
        assert_eq!(body["status_path"], format!("/jobs/{job_id}"));
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);

        let shown = handle(&deps, request("GET", &format!("/jobs/{job_id}"), "", None)).await;
        assert_eq!(shown.status(), StatusCode::OK);
        let view = json_body(&shown);
        assert_eq!(view["job_name"], "spring-tokyo");
        assert_eq!(view["history"][0]["status"], "RECEIVED");
        assert_eq!(view["history"][1]["status"], "QUEUED");
        assert!(view.get("form_digest").is_none());
    }

    #[tokio::test]
    async fn invalid_form_returns_every_problem_and_starts_nothing() {
        let deps = deps();
        let bad = r#"{"schema_version": 1, "job_name": "x", "backend": "spark", "extra": true}"#;
        let response = handle(&deps, request("POST", "/jobs", bad, None)).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json_body(&response);
        assert_eq!(body["error"]["code"], "InvalidForm");
        let expected = validate_form(bad.as_bytes(), &deps.rules).unwrap_err();
        assert_eq!(
            body["error"]["problems"],
            serde_json::to_value(&expected).unwrap()
        );
        assert!(expected.len() >= 5);
        assert!(deps.jobs.all().is_empty());
        assert!(deps.executions.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let deps = deps();
        let huge = "x".repeat(300 * 1024);
        let response = handle(&deps, request("POST", "/jobs", &huge, None)).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json_body(&response)["error"]["problems"][0]["code"], "too_large");
    }

    #[tokio::test]
    async fn idempotency_key_replays_and_refuses_a_different_form() {
        let deps = deps();
        let first = handle(
            &deps,
            request("POST", "/jobs", &form("spring-tokyo"), Some("k-1")),
        )
        .await;
        let again = handle(
            &deps,
            request("POST", "/jobs", &form("spring-tokyo"), Some("k-1")),
        )
        .await;
        assert_eq!(first.status(), StatusCode::ACCEPTED);
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_body(&first)["job_id"], json_body(&again)["job_id"]);
        assert_eq!(json_body(&again)["replayed"], true);
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);

        let other = handle(
            &deps,
            request("POST", "/jobs", &form("autumn-osaka"), Some("k-1")),
        )
        .await;
        assert_eq!(other.status(), StatusCode::CONFLICT);
        assert_eq!(json_body(&other)["error"]["code"], "IdempotencyKeyReused");
    }

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_404() {
        let deps = deps();
        for path in ["/jobs/nope-123", "/jobs/..%2Fetc"] {
            let response = handle(&deps, request("GET", path, "", None)).await;
            assert_eq!(response.status(), StatusCode::NOT_FOUND, "{path}");
            assert_eq!(json_body(&response)["error"]["code"], "JobNotFound");
        }
    }

    #[tokio::test]
    async fn throttled_start_is_503_and_the_retry_with_the_same_key_succeeds() {
        let deps = deps();
        *deps.executions.throttle.lock().unwrap() = true;
        let failed = handle(
            &deps,
            request("POST", "/jobs", &form("spring-tokyo"), Some("k-2")),
        )
        .await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        *deps.executions.throttle.lock().unwrap() = false;
        let retried = handle(
            &deps,
            request("POST", "/jobs", &form("spring-tokyo"), Some("k-2")),
        )
        .await;
        assert_eq!(retried.status(), StatusCode::OK);
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_job_that_cannot_start_and_cannot_be_retried_is_closed() {
        let deps = deps();
        *deps.executions.throttle.lock().unwrap() = true;
        let failed = handle(&deps, request("POST", "/jobs", &form("spring-tokyo"), None)).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        let record = &deps.jobs.all()[0];
        assert_eq!(record.status, JobStatus::Failed);
        assert_eq!(record.failure.as_ref().unwrap().error, "ExecutionNotStarted");
    }

    #[tokio::test]
    async fn other_methods_and_routes_have_json_errors() {
        let deps = deps();
        let response = handle(&deps, request("DELETE", "/jobs", "", None)).await;
        assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
        let response = handle(&deps, request("GET", "/nothing", "", None)).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert_eq!(json_body(&response)["error"]["code"], "RouteNotFound");
    }
}
