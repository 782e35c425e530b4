//! `POST /jobs`: validates a form and submits it through the one submit path (the record
//! QUEUED, the execution started), answering `202` with where to follow the job. A recurring
//! form (with a `schedule` block) becomes a schedule instead: `201` with its id and next five
//! firings. With an `Idempotency-Key` a repeat answers `200` with the same job or schedule and
//! starts nothing.

use lambda_http::http::StatusCode;
use lambda_http::Request;
use recoflow_core::errors::{ErrorName, ServiceError};
use recoflow_core::form::{JobForm, MAX_FORM_BYTES};
use recoflow_core::job::{form_digest, JobFailure, JobId, JobSource, JobStatus};
use recoflow_core::ports::{JobStore, TransitionExtras};
use recoflow_core::schedule::change::change_state;
use recoflow_core::schedule::create::{ScheduleError, ScheduleSubmitted};
use recoflow_core::schedule::{instant_now, ScheduleId, ScheduleState};
use recoflow_core::submit::{
    submit_form, FormSubmission, FormSubmitError, FormSubmitted, SubmitError, Submitted,
};
use recoflow_core::trigger::create::TriggerSubmitted;
use recoflow_core::trigger::TriggerId;
use recoflow_core::validation::{too_large_problem, validate_form, FormProblem, ValidationRules};
use serde_json::json;
use tracing::{error, Instrument};

use crate::call::Call;
use crate::ports::{ApiPorts, Submitting};
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

pub async fn submit<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let body = call.body();
    let (form, idempotency_key) = read_submission(call.request, body, &ports.settings().rules)?;
    let job_id = match &idempotency_key {
        Some(key) => JobId::for_idempotency_key(key),
        None => JobId::for_api_request(&uuid::Uuid::new_v4().to_string()),
    };
    let retryable = idempotency_key.is_some();
    // A recurring form's schedule id derives from the job id it would have had.
    let schedule_id = ScheduleId::for_submission(&form.job_name, &job_id);
    let submission = FormSubmission {
        job_id: job_id.clone(),
        source: JobSource::Api { idempotency_key },
        form,
        form_digest: form_digest(body),
    };
    let span = tracing::info_span!("submission", job_id = %job_id);
    async {
        match submit_form(&Submitting(ports), submission).await {
            Ok(FormSubmitted::Job(submitted)) => job_answer(&job_id, submitted),
            Ok(FormSubmitted::Schedule { schedule_id, outcome }) => schedule_answer(&schedule_id, outcome),
            Ok(FormSubmitted::Trigger { trigger_id, outcome }) => trigger_answer(&trigger_id, outcome),
            Err(FormSubmitError::Trigger(err)) => Err(ApiError::service(err)),
            Err(FormSubmitError::Job(SubmitError::Record(err))) => Err(ApiError::service(err)),
            Err(FormSubmitError::Job(SubmitError::Execution(err))) => {
                // Without an idempotency key the client cannot retry this job: close it rather
                // than leave it QUEUED forever. With a key, the retry starts it.
                if !retryable {
                    close_unstarted(ports.jobs(), &job_id, &err).await;
                }
                Err(ApiError::service(err))
            }
            Err(FormSubmitError::Schedule(ScheduleError::Invalid(problems))) => Err(invalid_form(problems)),
            Err(FormSubmitError::Schedule(ScheduleError::Record(err))) => Err(ApiError::service(err)),
            Err(FormSubmitError::Schedule(ScheduleError::Scheduler(err))) => {
                // Likewise a schedule whose Scheduler schedule could not be made: without a key
                // nobody can finish it, so it is deleted rather than listed as if it fired.
                if !retryable {
                    retire_unmade(ports, &schedule_id).await;
                }
                Err(ApiError::service(err))
            }
        }
    }
    .instrument(span)
    .await
}

/// `202` for a new job, `200` for a repeat with the same key.
fn job_answer(job_id: &JobId, submitted: Submitted) -> RouteResult {
    let (status, replayed, current) = match submitted {
        Submitted::Started => (StatusCode::ACCEPTED, false, JobStatus::Queued),
        Submitted::Duplicate { status } => (StatusCode::OK, true, status),
        Submitted::Conflict => return Err(key_reused()),
    };
    let body = json!({
        "job_id": job_id,
        "status": current,
        "status_path": format!("/jobs/{job_id}"),
        "replayed": replayed,
    });
    Ok(json_response(status, &body))
}

/// `201` with the next five firings for a new schedule, `200` for a repeat with the same key.
fn schedule_answer(schedule_id: &ScheduleId, outcome: ScheduleSubmitted) -> RouteResult {
    let (status, replayed, next_runs) = match outcome {
        ScheduleSubmitted::Created { next_runs } => (StatusCode::CREATED, false, next_runs),
        ScheduleSubmitted::Duplicate { next_runs } => (StatusCode::OK, true, next_runs),
        ScheduleSubmitted::Conflict => return Err(key_reused()),
    };
    let body = json!({
        "schedule_id": schedule_id,
        "next_runs": next_runs,
        "status_path": format!("/schedules/{schedule_id}"),
        "replayed": replayed,
    });
    Ok(json_response(status, &body))
}

/// `201` for a new trigger, `200` for a repeat with the same key.
fn trigger_answer(trigger_id: &TriggerId, outcome: TriggerSubmitted) -> RouteResult {
    let (status, replayed) = match outcome {
        TriggerSubmitted::Created => (StatusCode::CREATED, false),
        TriggerSubmitted::Duplicate => (StatusCode::OK, true),
        TriggerSubmitted::Conflict => return Err(key_reused()),
    };
    let body = json!({
        "trigger_id": trigger_id,
        "replayed": replayed,
    });
    Ok(json_response(status, &body))
}

fn key_reused() -> ApiError {
    ApiError::new(
        ErrorCode::IdempotencyKeyReused,
        "this Idempotency-Key was already used for a different form; use a new key",
    )
}

fn invalid_form(problems: Vec<FormProblem>) -> ApiError {
    let message = format!("the form has {} problem(s); nothing was started", problems.len());
    ApiError::with_problems(ErrorCode::InvalidForm, message, problems)
}

/// Deletes a schedule whose Scheduler schedule could not be made.
async fn retire_unmade<P: ApiPorts>(ports: &P, schedule_id: &ScheduleId) {
    let now = instant_now(ports.clock());
    let deleted = change_state(
        ports.schedules(),
        ports.scheduler(),
        schedule_id,
        ScheduleState::Deleted,
        "recoflow (its Scheduler schedule could not be made)",
        now,
    )
    .await;
    if let Err(err) = deleted {
        error!(error = %err, "could not delete the schedule whose Scheduler schedule was not made");
    }
}

/// The valid form and the idempotency key, or why they are refused.
fn read_submission(
    request: &Request,
    body: &[u8],
    rules: &ValidationRules,
) -> Result<(JobForm, Option<String>), ApiError> {
    if body.len() > MAX_FORM_BYTES {
        return Err(ApiError::with_problems(
            ErrorCode::FormTooLarge,
            "the form is too large",
            vec![too_large_problem(body.len() as u64)],
        ));
    }
    let idempotency_key = match request.headers().get("idempotency-key").map(|v| v.to_str()) {
        None => None,
        Some(Ok(key)) if !key.is_empty() && key.chars().count() <= MAX_IDEMPOTENCY_KEY_CHARS => {
            Some(key.to_owned())
        }
        Some(_) => {
            return Err(ApiError::new(
                ErrorCode::InvalidIdempotencyKey,
                "the Idempotency-Key header must be 1 to 255 visible ASCII characters",
            ))
        }
    };
    match validate_form(body, rules) {
        Ok(form) => Ok((form, idempotency_key)),
        Err(problems) => Err(invalid_form(problems)),
    }
}

/// Marks a job whose execution could not be started FAILED (`ExecutionNotStarted`).
async fn close_unstarted<J: JobStore>(jobs: &J, job_id: &JobId, err: &ServiceError) {
    let extras = TransitionExtras {
        failure: Some(JobFailure {
            error: ErrorName::ExecutionNotStarted.to_string(),
            cause: format!("{err}; submit the form again"),
            status: Some(JobStatus::Queued),
            // Recorded here, not by a Catch of the state machine.
            state: None,
        }),
        ..TransitionExtras::default()
    };
    if let Err(mark) = jobs
        .transition(
            job_id,
            JobStatus::Failed,
            "the execution could not be started",
            extras,
        )
        .await
    {
        error!(error = %mark, "could not mark the unstarted job FAILED");
    }
}

#[cfg(test)]
mod tests {
    use lambda_http::{Body, Response};

    use super::*;
    use crate::fake::*;
    use crate::show::show;

    /// The answer to `POST /jobs` as the client sees it, errors rendered.
    async fn post(ports: &FakeApiPorts, body: &str, key: Option<&str>) -> Response<Body> {
        let headers: Vec<(&str, &str)> = key.map(|k| vec![("Idempotency-Key", k)]).unwrap_or_default();
        let request = gateway_request("POST", "/jobs", "/jobs", body, &headers);
        submit(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response())
    }

    #[tokio::test]
    async fn valid_form_is_accepted_and_visible() {
        let ports = FakeApiPorts::default();
        let response = post(&ports, &form_json("spring-tokyo"), None).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body = json_body(&response);
        assert_eq!(body["status"], "QUEUED");
        let job_id = body["job_id"].as_str().unwrap().to_owned();
        assert_eq!(body["status_path"], format!("/jobs/{job_id}"));
        assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

        let request = gateway_request("GET", "/jobs/{id}", &format!("/jobs/{job_id}"), "", &[]);
        let shown = show(&ports, &signed_call(&request)).await.unwrap();
        assert_eq!(shown.status(), StatusCode::OK);
        let view = json_body(&shown);
        assert_eq!(view["job_name"], "spring-tokyo");
        assert_eq!(view["history"][0]["status"], "RECEIVED");
        assert_eq!(view["history"][1]["status"], "QUEUED");
        assert_eq!(view["status_since"], view["history"][1]["at"]);
        assert!(view.get("form_digest").is_none());
    }

    #[tokio::test]
    async fn invalid_form_returns_every_problem_and_starts_nothing() {
        let ports = FakeApiPorts::default();
        let bad = r#"{"schema_version": 1, "job_name": "x", "backend": "spark", "extra": true}"#;
        let response = post(&ports, bad, None).await;
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        let body = json_body(&response);
        assert_eq!(body["error"]["code"], "InvalidForm");
        let expected = validate_form(bad.as_bytes(), &ports.settings.rules).unwrap_err();
        assert_eq!(
            body["error"]["problems"],
            serde_json::to_value(&expected).unwrap()
        );
        assert!(expected.len() >= 5);
        assert!(ports.jobs.all().is_empty());
        assert!(ports.executions.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn oversized_body_is_413() {
        let ports = FakeApiPorts::default();
        let huge = "x".repeat(300 * 1024);
        let response = post(&ports, &huge, None).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json_body(&response)["error"]["problems"][0]["code"], "too_large");
    }

    #[tokio::test]
    async fn idempotency_key_replays_and_refuses_a_different_form() {
        let ports = FakeApiPorts::default();
        let first = post(&ports, &form_json("spring-tokyo"), Some("k-1")).await;
        let again = post(&ports, &form_json("spring-tokyo"), Some("k-1")).await;
        assert_eq!(first.status(), StatusCode::ACCEPTED);
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_body(&first)["job_id"], json_body(&again)["job_id"]);
        assert_eq!(json_body(&again)["replayed"], true);
        assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

        let other = post(&ports, &form_json("autumn-osaka"), Some("k-1")).await;
        assert_eq!(other.status(), StatusCode::CONFLICT);
        assert_eq!(json_body(&other)["error"]["code"], "IdempotencyKeyReused");
    }

    #[tokio::test]
    async fn throttled_start_is_503_and_the_retry_with_the_same_key_succeeds() {
        let ports = FakeApiPorts::default();
        *ports.executions.throttle.lock().unwrap() = true;
        let failed = post(&ports, &form_json("spring-tokyo"), Some("k-2")).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        *ports.executions.throttle.lock().unwrap() = false;
        let retried = post(&ports, &form_json("spring-tokyo"), Some("k-2")).await;
        assert_eq!(retried.status(), StatusCode::OK);
        assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_job_that_cannot_start_and_cannot_be_retried_is_closed() {
        let ports = FakeApiPorts::default();
        *ports.executions.throttle.lock().unwrap() = true;
        let failed = post(&ports, &form_json("spring-tokyo"), None).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        let record = &ports.jobs.all()[0];
        assert_eq!(record.status, JobStatus::Failed);
        let failure = record.failure.as_ref().unwrap();
        assert_eq!(failure.error, ErrorName::ExecutionNotStarted.as_str());
        assert_eq!(failure.status, Some(JobStatus::Queued));
    }

    #[tokio::test]
    async fn a_data_driven_form_becomes_a_trigger_watching_its_files() {
        let ports = FakeApiPorts::default();
        let mut form: serde_json::Value = serde_json::from_str(&form_json("nightly")).unwrap();
        form["trigger"] = json!({"on_new_data": true, "quiet_seconds": 30});
        let response = post(&ports, &form.to_string(), Some("t-1")).await;
        assert_eq!(response.status(), StatusCode::CREATED);
        let body = json_body(&response);
        let trigger_id = body["trigger_id"].as_str().unwrap().to_owned();
        assert_eq!(body["replayed"], false);
        assert!(
            ports.executions.started.lock().unwrap().is_empty(),
            "nothing runs yet"
        );
        let watching = ports.triggers.watches.lock().unwrap().clone();
        let uri = "s3://data-bucket/interactions.csv";
        assert_eq!(
            watching[uri].iter().map(|id| id.as_str()).collect::<Vec<_>>(),
            [trigger_id.as_str()]
        );
        let again = post(&ports, &form.to_string(), Some("t-1")).await;
        assert_eq!(
            (again.status(), json_body(&again)["trigger_id"].as_str()),
            (StatusCode::OK, Some(trigger_id.as_str()))
        );
    }
}
