//! `GET /triggers/{id}`: a data-driven form's trigger: its form, state, the files it watches and
//! its last runs (each job with the versions of the files that started it, and its status now).

use lambda_http::http::StatusCode;
use recoflow_core::ports::JobStore;
use recoflow_core::trigger::ports::TriggerStore;
use recoflow_core::trigger::{TriggerId, TriggerRecord};
use serde_json::{json, Value};

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};

pub async fn show_trigger<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = trigger_id(call)?;
    let record = ports.triggers().get(&id).await.map_err(ApiError::service)?;
    let record = record.ok_or_else(|| trigger_not_found(id.as_str()))?;
    let mut runs = Vec::new();
    for run in record.runs.iter().rev() {
        let job = ports.jobs().get(&run.job_id).await.map_err(ApiError::service)?;
        runs.push(json!({
            "job_id": run.job_id,
            "at": run.at,
            "files": run.files,
            "status": job.map(|job| job.status),
        }));
    }
    Ok(json_response(StatusCode::OK, &trigger_view(&record, runs)))
}

/// The trigger as the routes show it; `runs` newest first.
pub fn trigger_view(record: &TriggerRecord, runs: Vec<Value>) -> Value {
    json!({
        "trigger_id": record.trigger_id,
        "state": record.state,
        "quiet_seconds": record.settings().quiet_seconds,
        "watches": record.watched_uris(),
        "form": record.form,
        "created_at": record.created_at,
        "updated_at": record.updated_at,
        "last_runs": runs,
    })
}

/// The `{id}` of the path, or 404 when it cannot be a trigger's.
pub fn trigger_id(call: &Call<'_>) -> Result<TriggerId, ApiError> {
    let id = call.path_parameter("id");
    TriggerId::parse(id).ok_or_else(|| trigger_not_found(id))
}

pub fn trigger_not_found(id: &str) -> ApiError {
    ApiError::new(ErrorCode::TriggerNotFound, format!("there is no trigger {id}"))
}
