//! `GET /schedules?limit=20&next=<cursor>`: the schedules, newest first, each with its next
//! firing and its last one.

use lambda_http::http::StatusCode;
use recoflow_core::ports::ScheduleStore;
use recoflow_core::schedule::instant_now;
use serde_json::json;

use crate::call::Call;
use crate::paging::{created_at_cursor, page_asked};
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::schedule_views::ScheduleSummary;

const DEFAULT_PAGE: u32 = 20;

/// A cursor this listing gave out: `<created_at>~<schedule id>`.
fn cursor(next: &str) -> Option<String> {
    created_at_cursor(next, |id| {
        recoflow_core::schedule::ScheduleId::parse(id).is_some()
    })
}

pub async fn list_schedules<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let (limit, after) = page_asked(call.request, DEFAULT_PAGE, cursor)?;
    let (records, next) = ports
        .schedules()
        .recent(limit, after.as_deref())
        .await
        .map_err(ApiError::service)?;
    let now = instant_now(ports.clock());
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "schedules": records.iter().map(|r| ScheduleSummary::of(r, now)).collect::<Vec<_>>(),
            "next": next,
        }),
    ))
}
