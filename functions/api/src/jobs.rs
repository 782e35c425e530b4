//! `POST /jobs` submits a form, `GET /jobs/{id}` shows a job, `DELETE /jobs/{id}` cancels it.

use std::collections::BTreeMap;

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use recoflow_core::delivery::Delivery;
use recoflow_core::form::{JobForm, MAX_FORM_BYTES};
use recoflow_core::job::{
    form_digest, now_rfc3339, Cancellation, JobFailure, JobId, JobRecord, JobSource, JobStatus, ListCursor,
    StatusChange,
};
use recoflow_core::notification::Notification;
use recoflow_core::phase::{LaunchedResource, ResourceKind, ResourceState};
use recoflow_core::ports::{Executions, JobStore, ObjectStore, SlotStore, TransitionError, TransitionExtras};
use recoflow_core::quota::release_job_slots;
use recoflow_core::submit::{submit as submit_job, SubmitError, Submitted};
use recoflow_core::validation::{too_large_problem, validate_form, FormProblem};
use serde::Serialize;
use serde_json::json;
use tracing::{error, info, warn, Instrument};

use crate::handler::{error_response, json_response, problems_response, service_failure, ApiDeps};

const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;

pub async fn submit<J: JobStore, E: Executions, S, R, O, T>(
    deps: &ApiDeps<J, E, S, R, O, T>,
    request: &Request,
) -> Response<Body> {
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
    let retryable = idempotency_key.is_some();
    let record = JobRecord::queued(
        job_id.clone(),
        JobSource::Api { idempotency_key },
        form,
        form_digest(body),
        &now_rfc3339(),
    );
    let span = tracing::info_span!("submission", job_id = %job_id);
    async {
        let (status, replayed, current) = match submit_job(&deps.jobs, &deps.executions, &record).await {
            Ok(Submitted::Started) => (StatusCode::ACCEPTED, false, record.status),
            Ok(Submitted::Duplicate { status }) => (StatusCode::OK, true, status),
            Ok(Submitted::Conflict) => {
                return error_response(
                    StatusCode::CONFLICT,
                    "IdempotencyKeyReused",
                    "this Idempotency-Key was already used for a different form; use a new key",
                )
            }
            Err(SubmitError::Record(err)) => return service_failure(&err),
            Err(SubmitError::Execution(err)) => {
                // Without an idempotency key the client cannot retry this job: close it rather
                // than leave it QUEUED forever. With a key, the retry starts it.
                if !retryable {
                    close_unstarted(deps, &job_id, &err).await;
                }
                return service_failure(&err);
            }
        };
        let body = json!({
            "job_id": job_id,
            "status": current,
            "status_path": format!("/jobs/{job_id}"),
            "replayed": replayed,
        });
        json_response(status, &body)
    }
    .instrument(span)
    .await
}

async fn close_unstarted<J: JobStore, E, S, R, O, T>(
    deps: &ApiDeps<J, E, S, R, O, T>,
    job_id: &JobId,
    err: &(dyn std::fmt::Display + Sync),
) {
    let extras = TransitionExtras {
        failure: Some(JobFailure {
            error: "ExecutionNotStarted".to_owned(),
            cause: format!("{err}; submit the form again"),
            state: JobStatus::Queued.to_string(),
        }),
        ..TransitionExtras::default()
    };
    if let Err(mark) = deps
        .jobs
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

fn job_not_found(id: &str) -> Response<Body> {
    error_response(
        StatusCode::NOT_FOUND,
        "JobNotFound",
        &format!("no job has the id \"{id}\""),
    )
}

pub async fn show<J: JobStore, E, S, R, O, T>(deps: &ApiDeps<J, E, S, R, O, T>, id: &str) -> Response<Body> {
    let Some(job_id) = JobId::parse(id) else {
        return job_not_found(id);
    };
    match deps.jobs.get(&job_id).await {
        Ok(Some(record)) => json_response(
            StatusCode::OK,
            &serde_json::to_value(JobView::of(&record)).unwrap_or_default(),
        ),
        Ok(None) => job_not_found(id),
        Err(err) => service_failure(&err),
    }
}

/// Cancels a running job: marks it CANCELLED (who, when), stops its execution and gives its
/// quota slots back at once. The execution's end (an EventBridge rule) has the runner stop the
/// SageMaker or Personalize jobs it launched, hence `202`. A job already cancelled answers
/// `200` with the job; one that finished otherwise answers `409` and nothing changes.
pub async fn cancel<J: JobStore, E: Executions, S: SlotStore, R, O, T>(
    deps: &ApiDeps<J, E, S, R, O, T>,
    id: &str,
    caller: &str,
) -> Response<Body> {
    let Some(job_id) = JobId::parse(id) else {
        return job_not_found(id);
    };
    let span = tracing::info_span!("cancel", job_id = %job_id);
    async {
        let record = match deps.jobs.get(&job_id).await {
            Ok(Some(record)) => record,
            Ok(None) => return job_not_found(id),
            Err(err) => return service_failure(&err),
        };
        if record.status == JobStatus::Cancelled {
            return json_response(
                StatusCode::OK,
                &serde_json::to_value(JobView::of(&record)).unwrap_or_default(),
            );
        }
        if !record.status.is_running() {
            return finished(&job_id, record.status);
        }
        let extras = TransitionExtras {
            cancellation: Some(Cancellation {
                by: caller.to_owned(),
                at: now_rfc3339(),
            }),
            ..TransitionExtras::default()
        };
        let detail = format!("cancelled by {caller}");
        match deps
            .jobs
            .transition(&job_id, JobStatus::Cancelled, &detail, extras)
            .await
        {
            Ok(()) => {}
            Err(TransitionError::Illegal { from, .. }) => return finished(&job_id, from),
            Err(TransitionError::NotFound(_)) => return job_not_found(id),
            Err(TransitionError::Service(err)) => return service_failure(&err),
        }
        info!(by = %caller, "job cancelled");
        // The job is CANCELLED from here on: what follows only cleans up, and the runner's
        // clean-up repeats it if this request fails half-way.
        if let Some(arn) = &record.execution_arn {
            if let Err(err) = deps.executions.stop_execution(arn, &detail).await {
                warn!(error = %err, "could not stop the execution; its next step will see the job cancelled");
            }
        }
        let mut released = Vec::new();
        if let Some(form) = &record.form {
            match release_job_slots(&deps.slots, &job_id, form).await {
                Ok(pools) => released = pools.iter().map(ToString::to_string).collect(),
                Err(err) => {
                    warn!(error = %err, "could not release the job's slots; their leases will expire")
                }
            }
        }
        let stopping: Vec<&str> = record
            .resources
            .values()
            .filter(|r| r.kind.is_job() && !r.state.is_final())
            .map(|r| r.name.as_str())
            .collect();
        json_response(
            StatusCode::ACCEPTED,
            &json!({
                "job_id": job_id,
                "status": JobStatus::Cancelled,
                "released_pools": released,
                "stopping": stopping,
                "status_path": format!("/jobs/{job_id}"),
            }),
        )
    }
    .instrument(span)
    .await
}

/// Jobs on one page of `GET /jobs`, unless `limit` says otherwise (1 to 100).
const DEFAULT_PAGE: u32 = 20;

/// `GET /jobs?limit=20&next=<cursor>`: the newest jobs first.
pub async fn list<J: JobStore, E, S, R, O, T>(
    deps: &ApiDeps<J, E, S, R, O, T>,
    request: &Request,
) -> Response<Body> {
    let parameters = request.query_string_parameters();
    if let Some((name, _)) = parameters
        .iter()
        .find(|(name, _)| !["limit", "next"].contains(name))
    {
        return error_response(
            StatusCode::BAD_REQUEST,
            "InvalidParameter",
            &format!("{name}: unknown query parameter; use limit or next"),
        );
    }
    let limit = match parameters.first("limit") {
        None => DEFAULT_PAGE,
        Some(limit) => match limit.parse::<u32>() {
            Ok(limit) if (1..=100).contains(&limit) => limit,
            _ => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    &format!("limit: must be a whole number from 1 to 100, got {limit:?}"),
                )
            }
        },
    };
    let after = match parameters.first("next") {
        None => None,
        Some(next) => match ListCursor::decode(next) {
            Some(cursor) => Some(cursor),
            None => {
                return error_response(
                    StatusCode::BAD_REQUEST,
                    "InvalidParameter",
                    "next: not a cursor this API gave out; start again without it",
                )
            }
        },
    };
    match deps.jobs.recent(limit, after.as_ref()).await {
        Ok((records, next)) => json_response(
            StatusCode::OK,
            &json!({
                "jobs": records.iter().map(JobSummary::of).collect::<Vec<_>>(),
                "next": next.map(|c| c.encode()),
            }),
        ),
        Err(err) => service_failure(&err),
    }
}

/// Data files a form may name, for the web page's file picker.
const MAX_DATA_FILES: usize = 1_000;

/// `GET /ui/api/data-files`: the data bucket's CSV and JSON-lines files.
pub async fn data_files<J, E, S, R, O: ObjectStore, T>(deps: &ApiDeps<J, E, S, R, O, T>) -> Response<Body> {
    match deps.objects.list(&deps.data_bucket, "", MAX_DATA_FILES).await {
        Ok(keys) => {
            let truncated = keys.len() >= MAX_DATA_FILES;
            let files: Vec<serde_json::Value> = keys
                .iter()
                .filter(|k| [".csv", ".txt", ".jsonl"].iter().any(|ext| k.ends_with(ext)))
                .map(|k| json!({"uri": format!("s3://{}/{k}", deps.data_bucket)}))
                .collect();
            json_response(
                StatusCode::OK,
                &json!({"bucket": deps.data_bucket, "files": files, "truncated": truncated}),
            )
        }
        Err(err) => service_failure(&err),
    }
}

/// A job in a list: what a person scanning jobs needs, no more.
#[derive(Serialize)]
struct JobSummary<'a> {
    job_id: &'a JobId,
    job_name: Option<&'a str>,
    status: JobStatus,
    status_since: &'a str,
    created_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_set: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a JobFailure>,
}

impl<'a> JobSummary<'a> {
    fn of(record: &'a JobRecord) -> Self {
        let form = record.form.as_ref();
        Self {
            job_id: &record.job_id,
            job_name: record.job_name.as_deref(),
            status: record.status,
            status_since: record
                .history
                .last()
                .map(|c| c.at.as_str())
                .unwrap_or(&record.updated_at),
            created_at: &record.created_at,
            submitted_by: form.map(|f| f.submitted_by.as_str()),
            result_set: form.map(|f| f.result_set.as_str()),
            failure: record.failure.as_ref(),
        }
    }
}

fn finished(job_id: &JobId, status: JobStatus) -> Response<Body> {
    error_response(
        StatusCode::CONFLICT,
        "JobFinished",
        &format!("job {job_id} is {status}; only a running job can be cancelled, nothing changed"),
    )
}

/// What `GET /jobs/{id}` shows. An allow-list: a field added to the record stays internal
/// until it is named here.
#[derive(Serialize)]
pub struct JobView<'a> {
    job_id: &'a JobId,
    job_name: Option<&'a str>,
    status: JobStatus,
    /// When the job entered its current status.
    status_since: &'a str,
    history: &'a [StatusChange],
    created_at: &'a str,
    updated_at: &'a str,
    source: &'a JobSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<&'a JobForm>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [FormProblem],
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a JobFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation: Option<&'a Cancellation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users_to_score: Option<u64>,
    /// Whether Slack was told (`DELIVERED`, `UNDELIVERED` and why, `FOLDED` into a summary).
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<&'a Notification>,
    /// Where publishing the results stands: the version being written (served once
    /// `published`) and how far it got.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<DeliveryView<'a>>,
    counts: &'a BTreeMap<String, u64>,
    /// Everything the job launched, oldest first.
    resources: Vec<ResourceView<'a>>,
}

#[derive(Serialize)]
struct DeliveryView<'a> {
    version: &'a str,
    published: bool,
    started_at: &'a str,
    users_delivered: u64,
    lines_skipped: u64,
    segments_published: u64,
}

impl<'a> DeliveryView<'a> {
    fn of(delivery: &'a Delivery) -> Self {
        Self {
            version: &delivery.version,
            published: delivery.published,
            started_at: &delivery.started_at,
            users_delivered: delivery.users,
            lines_skipped: delivery.skipped,
            segments_published: delivery.segments,
        }
    }
}

#[derive(Serialize)]
struct ResourceView<'a> {
    #[serde(flatten)]
    resource: &'a LaunchedResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_url: Option<String>,
}

impl<'a> JobView<'a> {
    pub fn of(record: &'a JobRecord) -> Self {
        let mut resources: Vec<ResourceView<'a>> = record
            .resources
            .values()
            .map(|resource| ResourceView {
                resource,
                console_url: console_url(resource),
            })
            .collect();
        resources.sort_by(|a, b| (a.resource.phase, &a.resource.at).cmp(&(b.resource.phase, &b.resource.at)));
        Self {
            job_id: &record.job_id,
            job_name: record.job_name.as_deref(),
            status: record.status,
            status_since: record
                .history
                .last()
                .map(|c| c.at.as_str())
                .unwrap_or(&record.updated_at),
            history: &record.history,
            created_at: &record.created_at,
            updated_at: &record.updated_at,
            source: &record.source,
            form: record.form.as_ref(),
            problems: &record.problems,
            execution_arn: record.execution_arn.as_deref(),
            failure: record.failure.as_ref(),
            cancellation: record.cancellation.as_ref(),
            users_to_score: record.prepared.as_ref().map(|p| p.users_to_score),
            notification: record.notification.as_ref(),
            delivery: record.delivery.as_ref().map(DeliveryView::of),
            counts: &record.counts,
            resources,
        }
    }
}

/// The AWS console page of a SageMaker job (Personalize pages are keyed by ARN in the
/// console's own routing, so they get only their ARN).
fn console_url(resource: &LaunchedResource) -> Option<String> {
    let region = std::env::var("AWS_REGION").ok()?;
    let page = match resource.kind {
        ResourceKind::TrainingJob => "jobs",
        ResourceKind::ProcessingJob => "processing-jobs",
        _ => return None,
    };
    (resource.state != ResourceState::Launching).then(|| {
        format!(
            "https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/{page}/{}",
            resource.name
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::handle;
    use crate::handler::test_support::*;
    use recoflow_core::phase::Phase;
    use recoflow_core::quota::{Pool, SlotHolder};

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

    fn post(body: &str, key: Option<&str>) -> Request {
        match key {
            Some(key) => request("POST", "/jobs", "/jobs", body, &[("Idempotency-Key", key)]),
            None => request("POST", "/jobs", "/jobs", body, &[]),
        }
    }

    fn get(id: &str) -> Request {
        request("GET", "/jobs/{id}", &format!("/jobs/{id}"), "", &[])
    }

    fn delete(id: &str) -> Request {
        request("DELETE", "/jobs/{id}", &format!("/jobs/{id}"), "", &[])
    }

    #[tokio::test]
    async fn valid_form_is_accepted_and_visible() {
        let deps = deps();
        let response = handle(&deps, post(&form("spring-tokyo"), None)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        let body = json_body(&response);
        assert_eq!(body["status"], "QUEUED");
        let job_id = body["job_id"].as_str().unwrap().to_owned();
        assert_eq!(body["status_path"], format!("/jobs/{job_id}"));
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);

        let shown = handle(&deps, get(&job_id)).await;
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
        let deps = deps();
        let bad = r#"{"schema_version": 1, "job_name": "x", "backend": "spark", "extra": true}"#;
        let response = handle(&deps, post(bad, None)).await;
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
        let response = handle(&deps, post(&huge, None)).await;
        assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
        assert_eq!(json_body(&response)["error"]["problems"][0]["code"], "too_large");
    }

    #[tokio::test]
    async fn idempotency_key_replays_and_refuses_a_different_form() {
        let deps = deps();
        let first = handle(&deps, post(&form("spring-tokyo"), Some("k-1"))).await;
        let again = handle(&deps, post(&form("spring-tokyo"), Some("k-1"))).await;
        assert_eq!(first.status(), StatusCode::ACCEPTED);
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_body(&first)["job_id"], json_body(&again)["job_id"]);
        assert_eq!(json_body(&again)["replayed"], true);
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);

        let other = handle(&deps, post(&form("autumn-osaka"), Some("k-1"))).await;
        assert_eq!(other.status(), StatusCode::CONFLICT);
        assert_eq!(json_body(&other)["error"]["code"], "IdempotencyKeyReused");
    }

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_404() {
        let deps = deps();
        for id in ["nope-123", "..%2Fetc"] {
            for response in [handle(&deps, get(id)).await, handle(&deps, delete(id)).await] {
                assert_eq!(response.status(), StatusCode::NOT_FOUND, "{id}");
                assert_eq!(json_body(&response)["error"]["code"], "JobNotFound");
            }
        }
    }

    #[tokio::test]
    async fn throttled_start_is_503_and_the_retry_with_the_same_key_succeeds() {
        let deps = deps();
        *deps.executions.throttle.lock().unwrap() = true;
        let failed = handle(&deps, post(&form("spring-tokyo"), Some("k-2"))).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        *deps.executions.throttle.lock().unwrap() = false;
        let retried = handle(&deps, post(&form("spring-tokyo"), Some("k-2"))).await;
        assert_eq!(retried.status(), StatusCode::OK);
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_job_that_cannot_start_and_cannot_be_retried_is_closed() {
        let deps = deps();
        *deps.executions.throttle.lock().unwrap() = true;
        let failed = handle(&deps, post(&form("spring-tokyo"), None)).await;
        assert_eq!(failed.status(), StatusCode::SERVICE_UNAVAILABLE);
        let record = &deps.jobs.all()[0];
        assert_eq!(record.status, JobStatus::Failed);
        assert_eq!(record.failure.as_ref().unwrap().error, "ExecutionNotStarted");
    }

    #[tokio::test]
    async fn cancel_stops_the_execution_and_frees_the_slots_at_once() {
        let deps = deps();
        let job_id = json_body(&handle(&deps, post(&form("spring-tokyo"), Some("k-3"))).await)["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = JobId::parse(&job_id).unwrap();
        deps.jobs.force_status(&id, JobStatus::Importing);
        let record = deps.jobs.record(&id).unwrap();
        let form = record.form.unwrap();
        let (pool, units) = Pool::for_phase(&form, Phase::Import).unwrap();
        deps.slots
            .insert(&pool, SlotHolder::new(&id, Phase::Import, units, 0, 3600));

        let response = handle(&deps, delete(&job_id)).await;
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(
            json_body(&response)["released_pools"][0],
            "personalize-dataset-imports"
        );
        let record = deps.jobs.record(&id).unwrap();
        assert_eq!(record.status, JobStatus::Cancelled);
        assert_eq!(
            record.cancellation.unwrap().by,
            "arn:aws:iam::000000000000:user/ana"
        );
        assert_eq!(deps.slots.state(&pool).used, 0);
        assert_eq!(deps.executions.stopped.lock().unwrap().len(), 1);

        // Again: the job is shown as it is; nothing else happens.
        let again = handle(&deps, delete(&job_id)).await;
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_body(&again)["status"], "CANCELLED");
        assert_eq!(deps.executions.stopped.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn jobs_are_listed_newest_first_page_by_page() {
        let deps = deps();
        for i in 0..5 {
            handle(
                &deps,
                post(&form(&format!("job-{i}")), Some(&format!("k-list-{i}"))),
            )
            .await;
            tokio::time::sleep(std::time::Duration::from_millis(2)).await;
        }
        let page = |query: &str| request("GET", "/jobs", &format!("/jobs{query}"), "", &[]);
        let mut first = page("");
        first = lambda_http::RequestExt::with_query_string_parameters(
            first,
            std::collections::HashMap::from([("limit".to_owned(), "3".to_owned())]),
        );
        let body = json_body(&handle(&deps, first).await);
        let names: Vec<&str> = body["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["job_name"].as_str().unwrap())
            .collect();
        assert_eq!(names, ["job-4", "job-3", "job-2"]);
        let next = body["next"].as_str().unwrap().to_owned();
        let second = lambda_http::RequestExt::with_query_string_parameters(
            page(""),
            std::collections::HashMap::from([
                ("limit".to_owned(), "3".to_owned()),
                ("next".to_owned(), next),
            ]),
        );
        let body = json_body(&handle(&deps, second).await);
        assert_eq!(body["jobs"].as_array().unwrap().len(), 2);
        assert_eq!(body["next"], serde_json::Value::Null);
        let bad = lambda_http::RequestExt::with_query_string_parameters(
            page(""),
            std::collections::HashMap::from([("next".to_owned(), "garbage".to_owned())]),
        );
        assert_eq!(handle(&deps, bad).await.status(), StatusCode::BAD_REQUEST);
        let unknown = lambda_http::RequestExt::with_query_string_parameters(
            page(""),
            std::collections::HashMap::from([("cursor".to_owned(), "x".to_owned())]),
        );
        let answer = handle(&deps, unknown).await;
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        assert!(json_body(&answer)["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("cursor:"));
    }

    #[tokio::test]
    async fn cancelling_a_finished_job_is_409_and_changes_nothing() {
        let deps = deps();
        let job_id = json_body(&handle(&deps, post(&form("spring-tokyo"), Some("k-4"))).await)["job_id"]
            .as_str()
            .unwrap()
            .to_owned();
        let id = JobId::parse(&job_id).unwrap();
        deps.jobs.force_status(&id, JobStatus::Failed);
        let before = deps.jobs.record(&id).unwrap();
        let response = handle(&deps, delete(&job_id)).await;
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(json_body(&response)["error"]["code"], "JobFinished");
        assert_eq!(deps.jobs.record(&id).unwrap(), before);
        assert!(deps.executions.stopped.lock().unwrap().is_empty());
    }
}
