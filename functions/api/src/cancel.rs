//! `DELETE /jobs/{id}`: cancels a running job. It is marked CANCELLED (who, when), its
//! execution stopped and its quota slots given back at once; the execution's end (an
//! EventBridge rule) has the runner stop the SageMaker or Personalize jobs it launched, hence
//! `202`. A job already cancelled answers `200` with the job; one that finished otherwise, or
//! whose version was made current already (it is finishing), answers `409` and nothing changes.

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::job::{Cancellation, JobId, JobRecord, JobStatus};
use recoflow_core::ports::{Executions, JobStore, TransitionError, TransitionExtras};
use recoflow_core::slot_release::release_job_slots;
use serde_json::json;
use tracing::{info, warn, Instrument};

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};
use crate::views::JobView;

pub async fn cancel<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = call.path_parameter("id");
    let job_id = JobId::parse(id).ok_or_else(|| ApiError::job_not_found(id))?;
    let span = tracing::info_span!("cancel", job_id = %job_id);
    async {
        let record = ports.jobs().get(&job_id).await.map_err(ApiError::service)?;
        let record = record.ok_or_else(|| ApiError::job_not_found(id))?;
        if record.status == JobStatus::Cancelled {
            return Ok(json_response(
                StatusCode::OK,
                &JobView::of(&record, &ports.settings().region),
            ));
        }
        if !record.status.is_running() {
            return Err(finished(&job_id, record.status));
        }
        if let Some(version) = &record.made_current {
            return Err(publishing(&job_id, version));
        }
        let extras = TransitionExtras {
            cancellation: Some(Cancellation {
                by: call.caller.clone(),
                at: ports.clock().rfc3339_now(),
            }),
            ..TransitionExtras::default()
        };
        let detail = format!("cancelled by {}", call.caller);
        match ports
            .jobs()
            .transition(&job_id, JobStatus::Cancelled, &detail, extras)
            .await
        {
            Ok(()) => {}
            Err(TransitionError::Illegal { from, .. }) if from.is_running() => {
                // Running, yet not cancellable: its version was made current meanwhile.
                let record = ports.jobs().get(&job_id).await.map_err(ApiError::service)?;
                let version = record.and_then(|r| r.made_current).unwrap_or_default();
                return Err(publishing(&job_id, &version));
            }
            Err(TransitionError::Illegal { from, .. }) => return Err(finished(&job_id, from)),
            Err(TransitionError::NotFound(_)) => return Err(ApiError::job_not_found(id)),
            Err(TransitionError::Service(err)) => return Err(ApiError::service(err)),
        }
        info!(by = %call.caller, "job cancelled");
        let released_pools = clean_up(ports, &record, &detail).await;
        let stopping: Vec<&str> = record
            .resources
            .values()
            .filter(|r| r.kind.is_job() && !r.state.is_final())
            .map(|r| r.name.as_str())
            .collect();
        Ok(json_response(
            StatusCode::ACCEPTED,
            &json!({
                "job_id": job_id,
                "status": JobStatus::Cancelled,
                "released_pools": released_pools,
                "stopping": stopping,
                "status_path": format!("/jobs/{job_id}"),
            }),
        ))
    }
    .instrument(span)
    .await
}

/// Stops the cancelled job's execution and gives its slots back; answers the pools released.
/// The job is CANCELLED already: a failure here is only logged, as the runner's clean-up
/// repeats both when the execution ends.
async fn clean_up<P: ApiPorts>(ports: &P, record: &JobRecord, detail: &str) -> Vec<String> {
    if let Some(arn) = &record.execution_arn {
        if let Err(err) = ports.executions().stop_execution(arn, detail).await {
            warn!(error = %err, "could not stop the execution; its next step will see the job cancelled");
        }
    }
    match release_job_slots(ports.slots(), record).await {
        Ok(pools) => pools.iter().map(ToString::to_string).collect(),
        Err(err) => {
            warn!(error = %err, "could not release the job's slots; their leases will expire");
            Vec::new()
        }
    }
}

fn finished(job_id: &JobId, status: JobStatus) -> ApiError {
    ApiError::new(
        ErrorCode::JobFinished,
        format!("job {job_id} is {status}; only a running job can be cancelled, nothing changed"),
    )
}

/// A job whose version serves already (its publish is finishing): cancelling it would leave a
/// CANCELLED job's version current.
fn publishing(job_id: &JobId, version: &str) -> ApiError {
    ApiError::new(
        ErrorCode::JobFinished,
        format!(
            "job {job_id} has made its version {version} current and is finishing; \
             only a running job can be cancelled, nothing changed"
        ),
    )
}

#[cfg(test)]
mod tests {
    use recoflow_core::phase::Phase;
    use recoflow_core::quota::{Pool, SlotHolder};

    use super::*;
    use crate::fake::*;
    use crate::submit::submit;

    /// A job submitted through the API with this idempotency key; its id.
    async fn submitted(ports: &FakeApiPorts, key: &str) -> JobId {
        let request = gateway_request(
            "POST",
            "/jobs",
            "/jobs",
            &form_json("spring-tokyo"),
            &[("Idempotency-Key", key)],
        );
        let answer = json_body(&submit(ports, &signed_call(&request)).await.unwrap());
        JobId::parse(answer["job_id"].as_str().unwrap()).unwrap()
    }

    async fn delete(ports: &FakeApiPorts, id: &str) -> RouteResult {
        let request = gateway_request("DELETE", "/jobs/{id}", &format!("/jobs/{id}"), "", &[]);
        cancel(ports, &signed_call(&request)).await
    }

    #[tokio::test]
    async fn cancel_stops_the_execution_and_frees_the_slots_at_once() {
        let ports = FakeApiPorts::default();
        let id = submitted(&ports, "k-3").await;
        ports.jobs.force_status(&id, JobStatus::Importing);
        let form = ports.jobs.record(&id).unwrap().form.unwrap();
        let (pool, units) = Pool::for_phase(&form, Phase::Import).unwrap();
        ports
            .slots
            .insert(&pool, SlotHolder::new(&id, Phase::Import, units, 0, 3600));

        let response = delete(&ports, id.as_str()).await.unwrap();
        assert_eq!(response.status(), StatusCode::ACCEPTED);
        assert_eq!(
            json_body(&response)["released_pools"][0],
            "personalize-dataset-imports"
        );
        let record = ports.jobs.record(&id).unwrap();
        assert_eq!(record.status, JobStatus::Cancelled);
        let cancellation = record.cancellation.unwrap();
        assert_eq!(cancellation.by, SIGNED_CALLER);
        assert_eq!(cancellation.at, ports.clock.rfc3339_now());
        assert_eq!(ports.slots.state(&pool).used, 0);
        assert_eq!(ports.executions.stopped.lock().unwrap().len(), 1);

        // Again: the job is shown as it is; nothing else happens.
        let again = delete(&ports, id.as_str()).await.unwrap();
        assert_eq!(again.status(), StatusCode::OK);
        assert_eq!(json_body(&again)["status"], "CANCELLED");
        assert_eq!(ports.executions.stopped.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn cancelling_a_finished_job_is_409_and_changes_nothing() {
        let ports = FakeApiPorts::default();
        let id = submitted(&ports, "k-4").await;
        ports.jobs.force_status(&id, JobStatus::Failed);
        let before = ports.jobs.record(&id).unwrap();
        let refused = delete(&ports, id.as_str()).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::JobFinished);
        assert_eq!(ports.jobs.record(&id).unwrap(), before);
        assert!(ports.executions.stopped.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn cancelling_a_job_whose_version_was_made_current_is_409_and_changes_nothing() {
        let ports = FakeApiPorts::default();
        let id = submitted(&ports, "k-5").await;
        ports.jobs.force_status(&id, JobStatus::Delivering);
        ports
            .jobs
            .records
            .lock()
            .unwrap()
            .get_mut(&id)
            .unwrap()
            .made_current = Some("v-7".into());
        let before = ports.jobs.record(&id).unwrap();
        let refused = delete(&ports, id.as_str()).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::JobFinished);
        assert!(
            refused.message.contains("version v-7 current"),
            "{}",
            refused.message
        );
        assert_eq!(ports.jobs.record(&id).unwrap(), before);
        assert!(ports.executions.stopped.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_404() {
        let ports = FakeApiPorts::default();
        for id in ["nope-123", "..%2Fetc"] {
            let refused = delete(&ports, id).await.unwrap_err();
            assert_eq!(refused.code, ErrorCode::JobNotFound, "{id}");
        }
    }
}
