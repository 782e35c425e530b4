//! `POST /jobs/{id}/retry` (optional body `{"from_phase": "score"}`): a new job that reuses
//! every phase the old one finished and starts at the one that failed (`recoflow_core::retry`).
//! `202` with the new job, `200` when the same retry was asked before (its job, as it stands);
//! `404` for an unknown job, `409` for a running one or one that cannot be retried (as asked),
//! `400` for a `from_phase` that is not a phase of the job's backend.

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::phase::Phase;
use recoflow_core::retry::{retry_job, RetryError, RetryRefusal};
use recoflow_core::submit::SubmitError;
use serde::Deserialize;
use serde_json::json;
use tracing::Instrument;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};

/// The body: all of it optional.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RetryAsked {
    #[serde(default)]
    from_phase: Option<Phase>,
}

pub async fn retry<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = call.path_parameter("id");
    let job_id = JobId::parse(id).ok_or_else(|| ApiError::job_not_found(id))?;
    let asked = retry_asked(call.body())?;
    let span = tracing::info_span!("retry", job_id = %job_id, from_phase = ?asked.from_phase);
    async {
        let now = ports.clock().rfc3339_now();
        let retried = retry_job(ports.jobs(), ports.executions(), &job_id, asked.from_phase, &now)
            .await
            .map_err(refused)?;
        let (status, current) = match retried.replayed {
            None => (StatusCode::ACCEPTED, JobStatus::Queued),
            Some(current) => (StatusCode::OK, current),
        };
        let body = json!({
            "job_id": retried.job_id,
            "retry_of": retried.retry_of,
            "from_phase": retried.from_phase,
            "reused": retried.reused,
            "status": current,
            "status_path": format!("/jobs/{}", retried.job_id),
            "replayed": retried.replayed.is_some(),
        });
        Ok(json_response(status, &body))
    }
    .instrument(span)
    .await
}

/// The body, empty or `{"from_phase": "import"|"train"|"score"}`.
fn retry_asked(body: &[u8]) -> Result<RetryAsked, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(RetryAsked::default());
    }
    serde_json::from_slice(body).map_err(|err| {
        ApiError::invalid_parameter(
            "from_phase",
            &format!("the body must be {{\"from_phase\": \"import\"|\"train\"|\"score\"}} or empty ({err})"),
        )
    })
}

fn refused(err: RetryError) -> ApiError {
    match err {
        RetryError::Refused(refusal) => {
            let code = match &refusal {
                RetryRefusal::NotFound(_) => ErrorCode::JobNotFound,
                RetryRefusal::Running { .. } => ErrorCode::JobRunning,
                RetryRefusal::PhaseNotInPlan { .. } => ErrorCode::InvalidParameter,
                RetryRefusal::NotRetryable { .. } | RetryRefusal::PhaseNotFinished { .. } => {
                    ErrorCode::NotRetryable
                }
            };
            let message = match code {
                ErrorCode::InvalidParameter => format!("from_phase: {refusal}"),
                _ => refusal.to_string(),
            };
            ApiError::new(code, message)
        }
        RetryError::Submit(SubmitError::Record(err) | SubmitError::Execution(err))
        | RetryError::Service(err) => ApiError::service(err),
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::job::{JobRecord, StatusChange};
    use recoflow_core::phase::{job_resource_name, LaunchedResource, ResourceKind, ResourceState};
    use serde_json::Value;

    use super::*;
    use crate::fake::*;
    use crate::show::show;

    const RESOURCE: &str = "/jobs/{id}/retry";

    async fn post(ports: &FakeApiPorts, id: &str, body: &str) -> (u16, Value) {
        let request = gateway_request("POST", RESOURCE, &format!("/jobs/{id}/retry"), body, &[]);
        answer_of(retry(ports, &signed_call(&request)).await).await
    }

    async fn get(ports: &FakeApiPorts, id: &str) -> Value {
        let request = gateway_request("GET", "/jobs/{id}", &format!("/jobs/{id}"), "", &[]);
        json_body(&show(ports, &signed_call(&request)).await.unwrap())
    }

    /// A container job that trained, then failed (or succeeded) scoring.
    fn scored(ports: &FakeApiPorts, ended: JobStatus) -> JobId {
        let job_id = ports
            .jobs
            .insert_queued("spring-1", recoflow_core::fakes::test_form("container"));
        let mut records = ports.jobs.records.lock().unwrap();
        let record: &mut JobRecord = records.get_mut(&job_id).unwrap();
        for status in [
            JobStatus::Preparing,
            JobStatus::Training,
            JobStatus::Scoring,
            ended,
        ] {
            record.status = status;
            record.history.push(StatusChange {
                status,
                at: "2026-12-01T00:00:00Z".into(),
                detail: String::new(),
            });
        }
        let name = job_resource_name(&job_id, Phase::Train, None, 1);
        record.resources.insert(
            name.clone(),
            LaunchedResource {
                phase: Phase::Train,
                kind: ResourceKind::TrainingJob,
                name,
                arn: Some("arn:train".into()),
                attempt: 1,
                state: ResourceState::Succeeded,
                at: "2026-12-01T00:00:00Z".into(),
                reason: None,
                platform_failure: false,
                reused: None,
            },
        );
        job_id
    }

    #[tokio::test]
    async fn a_failed_job_is_retried_from_its_failed_phase_once() {
        let ports = FakeApiPorts::default();
        let old = scored(&ports, JobStatus::Failed);
        let (status, body) = post(&ports, old.as_str(), "").await;
        assert_eq!(status, 202, "{body}");
        assert_eq!(
            (body["from_phase"].as_str(), body["retry_of"].as_str()),
            (Some("score"), Some(old.as_str()))
        );
        let new_id = body["job_id"].as_str().unwrap().to_owned();
        assert_eq!(body["reused"].as_array().unwrap().len(), 1);
        assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

        let new = get(&ports, &new_id).await;
        assert_eq!(new["retry_of"], old.as_str());
        assert_eq!(new["source"]["kind"], "retry");
        assert_eq!(new["resources"][0]["reused"]["job_id"], old.as_str(), "{new}");
        assert_eq!(get(&ports, old.as_str()).await["retried_by"], new_id.as_str());
        let request = gateway_request("GET", "/jobs", "/jobs", "", &[]);
        let (_, listed) = answer_of(crate::list::list(&ports, &signed_call(&request)).await).await;
        let listed_old = listed["jobs"]
            .as_array()
            .unwrap()
            .iter()
            .find(|j| j["job_id"] == old.as_str());
        assert_eq!(listed_old.unwrap()["retried_by"], new_id.as_str(), "{listed}");

        // Asked again: the same job, nothing new started.
        let (status, again) = post(&ports, old.as_str(), " ").await;
        assert_eq!((status, again["job_id"].as_str()), (200, Some(new_id.as_str())));
        assert_eq!(again["replayed"], true);
        assert_eq!(ports.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn refusals_have_their_codes() {
        let ports = FakeApiPorts::default();
        let (status, body) = post(&ports, "nope-1", "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (404, Some("JobNotFound"))
        );

        let running = ports
            .jobs
            .insert_queued("spring-2", recoflow_core::fakes::test_form("container"));
        let (status, body) = post(&ports, running.as_str(), "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("JobRunning")),
            "{body}"
        );

        let succeeded = scored(&ports, JobStatus::Succeeded);
        let (status, body) = post(&ports, succeeded.as_str(), "").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("NotRetryable")),
            "{body}"
        );
        let (status, body) = post(&ports, succeeded.as_str(), r#"{"from_phase": "import"}"#).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (400, Some("InvalidParameter")),
            "{body}"
        );
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .starts_with("from_phase: "),
            "{body}"
        );
        let (status, _) = post(&ports, succeeded.as_str(), r#"{"from": "score"}"#).await;
        assert_eq!(status, 400);
        // A succeeded job's scoring again, on its model.
        let (status, body) = post(&ports, succeeded.as_str(), r#"{"from_phase": "score"}"#).await;
        assert_eq!(
            (status, body["from_phase"].as_str()),
            (202, Some("score")),
            "{body}"
        );
    }
}
