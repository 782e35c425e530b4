//! `DELETE /schedules/{id}`: the schedule fires no more (its Scheduler schedule is deleted);
//! jobs it started are not touched, and jobs queued behind them still start in turn. Deleting
//! it again answers the same.

use lambda_http::http::StatusCode;
use recoflow_core::schedule::change::change_state;
use recoflow_core::schedule::{instant_now, ScheduleState};
use serde_json::json;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, RouteResult};
use crate::schedule_show::{schedule_id, schedule_not_found};
use crate::schedule_state::change_refused;

pub async fn delete_schedule<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = schedule_id(call)?;
    let now = instant_now(ports.clock());
    let deleted = change_state(
        ports.schedules(),
        ports.scheduler(),
        &id,
        ScheduleState::Deleted,
        &call.caller,
        now,
    )
    .await
    .map_err(change_refused)?;
    let record = deleted.ok_or_else(|| schedule_not_found(id.as_str()))?;
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "schedule_id": record.schedule_id,
            "state": record.state,
            "running_jobs_untouched": record.active_job.iter().chain(&record.waiting).collect::<Vec<_>>(),
        }),
    ))
}
