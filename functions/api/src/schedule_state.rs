//! `PATCH /schedules/{id}` `{"state": "PAUSED" | "ENABLED"}`: pauses (its Scheduler schedule
//! DISABLED: no more firings) or resumes a schedule; the answer is the schedule. Asking for
//! the state it is in changes nothing (and makes the Scheduler agree, should an earlier call
//! have stopped short).

use lambda_http::http::StatusCode;
use recoflow_core::schedule::change::{change_state, ChangeError};
use recoflow_core::schedule::{instant_now, ScheduleState};
use serde::Deserialize;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode, RouteResult};
use crate::schedule_show::{schedule_id, schedule_not_found, view_response};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct StateAsked {
    state: String,
}

fn state_asked(body: &[u8]) -> Result<ScheduleState, ApiError> {
    let refused = || {
        ApiError::new(
            ErrorCode::InvalidParameter,
            "state: the body must be {\"state\": \"PAUSED\"} or {\"state\": \"ENABLED\"}",
        )
    };
    let asked: StateAsked = serde_json::from_slice(body).map_err(|_| refused())?;
    match asked.state.as_str() {
        "PAUSED" => Ok(ScheduleState::Paused),
        "ENABLED" => Ok(ScheduleState::Enabled),
        _ => Err(refused()),
    }
}

/// The answer to a failed change.
pub fn change_refused(err: ChangeError) -> ApiError {
    match err {
        ChangeError::Service(err) => ApiError::service(err),
        ChangeError::Contended(id) => ApiError::service(format!("schedule {id} kept changing")),
    }
}

pub async fn set_schedule_state<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let id = schedule_id(call)?;
    let to = state_asked(call.body())?;
    let now = instant_now(ports.clock());
    let changed = change_state(ports.schedules(), ports.scheduler(), &id, to, &call.caller, now)
        .await
        .map_err(change_refused)?;
    let record = changed.ok_or_else(|| schedule_not_found(id.as_str()))?;
    view_response(ports, &record, StatusCode::OK).await
}
