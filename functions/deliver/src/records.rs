//! What Deliver keeps beside the version's lists: the version's record (when it was made, its
//! metrics and gate outcome, whether it was held or published) and the result set's entry (its
//! last job, how fresh it is expected to be). See `recoflow_core::versions`.

use recoflow_core::delivery::Delivery;
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobRecord, JobStatus};
use recoflow_core::ports::VersionStore;
use recoflow_core::versions::{
    keys, LastJob, ResultSetEntry, VersionRecord, RECORD_OUTLIVES_LISTS_SECONDS, RESULT_SET_LISTING,
};

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// The record of a version being written: not held, never published yet.
fn version_started(record: &JobRecord, form: &JobForm, delivery: &Delivery) -> VersionRecord {
    VersionRecord {
        pk: keys::version(&form.result_set, &delivery.version),
        version_of: form.result_set.clone(),
        version: delivery.version.clone(),
        job_id: record.job_id.clone(),
        created_at: record.created_at.clone(),
        written_at: None,
        published_at: None,
        held: false,
        metrics: None,
        gate: None,
        promoted: None,
        discarded: None,
        version_expires_at: delivery.expires_at,
        excluded_items: Vec::new(),
        expires_at: delivery.expires_at + RECORD_OUTLIVES_LISTS_SECONDS,
    }
}

/// At the start of a delivery: the version's record, and the result set's entry naming the job
/// (`DELIVERING`) with the form's freshness; a staleness alert already noted is kept.
pub(crate) async fn note_version_started<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &Delivery,
) -> Result<(), DeliverError> {
    let versions = ports.versions();
    versions
        .put_version(&version_started(record, form, delivery))
        .await?;
    let stale_alert_for = versions
        .entry(&form.result_set)
        .await?
        .and_then(|entry| entry.stale_alert_for);
    versions
        .put_entry(&ResultSetEntry {
            pk: keys::result_set_entry(&form.result_set),
            listing: RESULT_SET_LISTING.to_owned(),
            result_set: form.result_set.clone(),
            last_job: LastJob {
                job_id: record.job_id.clone(),
                status: JobStatus::Delivering,
            },
            expect_refresh_hours: form.expect_refresh_hours,
            stale_alert_for,
        })
        .await?;
    Ok(())
}

/// Updates the version's record (made afresh if it is missing) with `change`.
pub(crate) async fn update_version<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &Delivery,
    change: impl FnOnce(&mut VersionRecord),
) -> Result<(), DeliverError> {
    let versions = ports.versions();
    let mut version = versions
        .version(&form.result_set, &delivery.version)
        .await?
        .unwrap_or_else(|| version_started(record, form, delivery));
    change(&mut version);
    versions.put_version(&version).await?;
    Ok(())
}
