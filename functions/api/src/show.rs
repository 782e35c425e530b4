//! `GET /jobs/{id}`: one job, whole (its status history, failure, delivery, what it launched,
//! and while it waits for quota its place in the pool's queue).

use lambda_http::http::StatusCode;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::JobStore;
use recoflow_core::quota_queue::quota_wait;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::views::JobView;

pub async fn show<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = call.path_parameter("id");
    let job_id = JobId::parse(id).ok_or_else(|| ApiError::job_not_found(id))?;
    let record = ports.jobs().get(&job_id).await.map_err(ApiError::service)?;
    let record = record.ok_or_else(|| ApiError::job_not_found(id))?;
    let waiting = if record.status == JobStatus::WaitingForQuota {
        quota_wait(ports.slots(), &record)
            .await
            .map_err(ApiError::service)?
    } else {
        None
    };
    Ok(json_response(
        StatusCode::OK,
        &JobView::of(&record, &ports.settings().region).with_quota_wait(waiting),
    ))
}

#[cfg(test)]
mod tests {
    use recoflow_core::phase::Phase;
    use recoflow_core::ports::SlotStore;
    use recoflow_core::quota::{Pool, SlotHolder};
    use recoflow_core::quota_queue::Waiter;

    use super::*;
    use crate::fake::*;
    use crate::response::ErrorCode;

    async fn get(ports: &FakeApiPorts, id: &str) -> serde_json::Value {
        let request = gateway_request("GET", "/jobs/{id}", &format!("/jobs/{id}"), "", &[]);
        json_body(&show(ports, &signed_call(&request)).await.unwrap())
    }

    #[tokio::test]
    async fn a_waiting_job_shows_its_place_in_the_queue_and_the_pool_s_holders() {
        let ports = FakeApiPorts::default();
        let id = ports
            .jobs
            .insert_queued("waiting-1", recoflow_core::fakes::test_form("personalize"));
        let pool = Pool::PersonalizeSolutionVersions;
        let holder = |job: &str| SlotHolder::new(&JobId::parse(job).unwrap(), Phase::Train, 1, 0, 3600);
        ports.slots.insert(&pool, holder("running-1"));
        for (job, at) in [
            ("earlier-1", "2000-01-01T00:00:00.000Z"),
            ("waiting-1", "2100-01-01T00:00:00.000Z"),
        ] {
            let waiter = Waiter {
                holder: holder(job),
                priority: Default::default(),
                submitted_at: at.into(),
                token: format!("secret-token-of-{job}"),
                parked_at: 0,
            };
            ports.slots.enqueue(&pool, &waiter).await.unwrap();
        }
        assert!(
            get(&ports, "waiting-1").await.get("quota_wait").is_none(),
            "only while it waits"
        );

        ports.jobs.force_status(&id, JobStatus::WaitingForQuota);
        let body = get(&ports, "waiting-1").await;
        assert_eq!(
            body["quota_wait"],
            serde_json::json!({"pool": "personalize-solution-versions", "position": 2, "holders": 1, "waiting": 2})
        );
        assert!(
            !body.to_string().contains("secret-token"),
            "tokens stay in the table"
        );
    }

    #[tokio::test]
    async fn unknown_and_malformed_ids_are_404() {
        let ports = FakeApiPorts::default();
        for id in ["nope-123", "..%2Fetc"] {
            let request = gateway_request("GET", "/jobs/{id}", &format!("/jobs/{id}"), "", &[]);
            let refused = show(&ports, &signed_call(&request)).await.unwrap_err();
            assert_eq!(refused.code, ErrorCode::JobNotFound, "{id}");
        }
    }
}
