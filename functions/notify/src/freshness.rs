//! The freshness check (an EventBridge schedule, `{"kind": "freshness"}`): every result set
//! whose form says `expect_refresh_hours` and whose current version was published longer ago
//! than that gets one alert. The entry notes the version it was sent for before it is sent (one
//! conditional write), so overlapping checks send it once, and no other goes out until a newer
//! version is published and grows stale in turn.

use recoflow_core::errors::ServiceError;
use recoflow_core::notification::{stale_message, Staleness};
use recoflow_core::ports::{Clock, RecommendationStore, VersionStore};
use recoflow_core::task::{NotifyOutcome, NotifyState};
use recoflow_core::versions::ResultSetEntry;
use tracing::{info, warn};

use crate::delivery::deliver;
use crate::error::NotifyError;
use crate::links::result_set_page;
use crate::ports::NotifyPorts;

/// Result-set entries read per page.
const ENTRIES_PAGE: u32 = 100;

/// Checks every result set; one that cannot be checked does not keep the others from it (the
/// first such error is the invocation's, after all were looked at).
pub async fn check_freshness<P: NotifyPorts>(ports: &P) -> Result<NotifyOutcome, NotifyError> {
    let (mut checked, mut alerted) = (0u32, 0u32);
    let mut first_error: Option<ServiceError> = None;
    let mut after: Option<String> = None;
    loop {
        let (entries, next) = ports
            .recommendations()
            .entries(ENTRIES_PAGE, after.as_deref())
            .await?;
        for entry in entries.iter().filter(|e| e.expect_refresh_hours.is_some()) {
            checked += 1;
            match alert_if_stale(ports, entry).await {
                Ok(sent) => alerted += u32::from(sent),
                Err(err) => {
                    warn!(result_set = %entry.result_set, error = %err, "freshness not checked");
                    first_error.get_or_insert(err);
                }
            }
        }
        match next {
            Some(next) => after = Some(next),
            None => break,
        }
    }
    info!(checked, alerted, "freshness checked");
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(NotifyOutcome::of(NotifyState::FreshnessChecked)),
    }
}

/// Sends the entry's alert if its current version is past due and none was sent for it;
/// `true` when this call sent it.
async fn alert_if_stale<P: NotifyPorts>(ports: &P, entry: &ResultSetEntry) -> Result<bool, ServiceError> {
    let Some(hours) = entry.expect_refresh_hours else {
        return Ok(false);
    };
    let store = ports.recommendations();
    // Nothing published yet: nothing is stale (a held first version has its own message).
    let Some(pointer) = store.pointer(&entry.result_set).await? else {
        return Ok(false);
    };
    if entry.stale_alert_for.as_deref() == Some(pointer.version.as_str()) {
        return Ok(false);
    }
    let age_seconds = ports.clock().seconds_since(&pointer.published_at);
    let expected_seconds = (hours * f64::from(ports.settings().freshness_hour_seconds)).ceil() as u64;
    if age_seconds <= expected_seconds {
        return Ok(false);
    }
    if !store
        .note_stale_alert(&entry.result_set, &pointer.version)
        .await?
    {
        return Ok(false);
    }
    let stale = Staleness {
        result_set: &entry.result_set,
        current_version: &pointer.version,
        age_seconds,
        expected_seconds,
        last_job: Some(&entry.last_job),
    };
    let message = stale_message(&stale, result_set_page(ports, &entry.result_set).await);
    let sent = deliver(ports, &message).await?;
    if sent.delivered {
        info!(result_set = %entry.result_set, version = %pointer.version, age_seconds, "stale: alert sent");
    } else {
        warn!(result_set = %entry.result_set, error = ?sent.last_error, "stale: alert not delivered");
    }
    Ok(true)
}
