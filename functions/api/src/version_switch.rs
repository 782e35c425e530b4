//! Making a version current (promote, rollback): one conditional write of the pointer, taken
//! only if it still names the version this call saw, then the version's record notes who did
//! it, when and why (and when it was first published, for a version that never was).

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, Pointer, SegmentDimensions};
use recoflow_core::ports::{JobStore, PointerSwitch, VersionStore};
use recoflow_core::versions::{Decision, VersionRecord, VersionState};
use serde_json::json;
use tracing::{error, info};

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};
use crate::result_set_lookup::ResultSetNow;
use crate::version_views::VersionView;

/// Refuses a version that cannot become current: not wholly written (its job did not finish
/// delivering it), current already, discarded or expired.
fn switchable(record: &VersionRecord, now: &ResultSetNow, now_unix: i64) -> Result<(), ApiError> {
    let version = &record.version;
    let refused = |code, why: &str| {
        Err(ApiError::new(
            code,
            format!("version {version} {why}; nothing changed"),
        ))
    };
    if record.written_at.is_none() {
        return refused(
            ErrorCode::VersionIncomplete,
            "is not wholly written (its job did not finish delivering it)",
        );
    }
    match record.state(now.current(), now_unix) {
        VersionState::Held | VersionState::Superseded => Ok(()),
        VersionState::Current => refused(ErrorCode::AlreadyCurrent, "is current already"),
        VersionState::Discarded => refused(ErrorCode::VersionDiscarded, "was discarded and is never served"),
        VersionState::Expired => refused(
            ErrorCode::VersionExpired,
            "has expired: its lists are gone; run its job again",
        ),
    }
}

/// The pointer that serves `record`: what serving needs of its job (`num_results`, the
/// counts) and the form's banned items kept on the record, replacing `now`'s current version.
async fn pointer_serving<P: ApiPorts>(
    ports: &P,
    record: &VersionRecord,
    now: &ResultSetNow,
    published_at: &str,
) -> Result<Pointer, ApiError> {
    let job = ports
        .jobs()
        .get(&record.job_id)
        .await
        .map_err(ApiError::service)?;
    let (Some(job), Some(form)) = (job.as_ref(), job.as_ref().and_then(|j| j.form.as_ref())) else {
        return Err(ApiError::new(
            ErrorCode::VersionNotFound,
            format!(
                "version {} was written by job {}, whose record is gone",
                record.version, record.job_id
            ),
        ));
    };
    let delivery = job.delivery.as_ref();
    Ok(Pointer {
        pk: keys::pointer(&now.name),
        result_set: now.name.clone(),
        version: record.version.clone(),
        job_id: record.job_id.clone(),
        published_at: published_at.to_owned(),
        num_results: form.num_results,
        excluded_items: record.excluded_items.clone(),
        users: delivery.map_or(0, |d| d.users),
        segments: delivery.map_or(0, |d| d.segments),
        expires_at: record.version_expires_at,
        previous_version: now.current().map(str::to_owned),
        segment_dimensions: SegmentDimensions::of(form),
        output: form.output,
    })
}

/// Makes `record` the result set's current version; the answer names it and the version it
/// replaced.
pub async fn make_current<P: ApiPorts>(
    ports: &P,
    call: &Call<'_>,
    now: &ResultSetNow,
    mut record: VersionRecord,
    reason: Option<String>,
) -> RouteResult {
    let clock = ports.clock();
    switchable(&record, now, clock.unix_now())?;
    let at = clock.rfc3339_now();
    let published_at = record.published_at.clone().unwrap_or_else(|| at.clone());
    let pointer = pointer_serving(ports, &record, now, &published_at).await?;
    let switched = ports
        .lists()
        .switch_pointer(&pointer, now.current())
        .await
        .map_err(ApiError::service)?;
    if let PointerSwitch::Moved { current } = switched {
        let current = current.as_deref().unwrap_or("none");
        return Err(ApiError::new(
            ErrorCode::PointerMoved,
            format!("the result set's current version changed meanwhile (now {current}); nothing changed, look again and retry"),
        ));
    }
    ports.pointers().forget(&now.name);
    info!(result_set = %now.name, version = %record.version, previous = ?now.current(), by = %call.caller, "version made current");
    record.published_at = Some(published_at);
    record.promoted = Some(Decision {
        by: call.caller.clone(),
        at,
        reason,
    });
    if let Err(err) = ports.lists().put_version(&record).await {
        error!(error = %err, version = %record.version, "the version is current, but its record was not updated");
        return Err(ApiError::new(
            ErrorCode::ServiceUnavailable,
            format!(
                "version {} is current now, but who made it so could not be recorded; see GET /result-sets/{}",
                record.version, now.name
            ),
        ));
    }
    Ok(json_response(
        StatusCode::OK,
        &json!({
            "result_set": now.name,
            "current_version": record.version,
            "previous_version": now.current(),
            "version": VersionView::of(&record, Some(&record.version), clock.unix_now()),
        }),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::*;
    use crate::result_set_lookup::{result_set_now, version_record};

    #[tokio::test]
    async fn a_pointer_that_moved_after_it_was_read_is_409_and_nothing_changes() {
        let ports = with_versions();
        let seen = result_set_now(&ports, RS).await.unwrap();
        let record = version_record(&ports, RS, V3).await.unwrap();
        // Meanwhile someone rolled back to V1.
        let rolled_back = pointer_to(&ports, V1, Some(V2), "2026-12-01T05:00:00.000Z");
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .insert(RS.into(), rolled_back.clone());

        let request = gateway_request(
            "POST",
            "/result-sets/{result_set}/versions/{version}/promote",
            "/",
            "",
            &[],
        );
        let refused = make_current(&ports, &signed_call(&request), &seen, record, Some("r".into()))
            .await
            .unwrap_err();
        assert_eq!(refused.code, ErrorCode::PointerMoved);
        assert!(refused.message.contains(V1), "{}", refused.message);
        assert_eq!(current_pointer(&ports), Some(rolled_back));
        assert_eq!(stored_version(&ports, V3).promoted, None);
    }
}
