//! NotifySuccess: a succeeded job's message, when its form asks (`notify.on_success`), once.
//! A job that made audiences says how many users each holds, by segment column, with a
//! presigned download link of each CSV and when the links stop working.

use recoflow_core::clock::Clock;
use recoflow_core::form::Output;
use recoflow_core::job::{JobId, JobRecord};
use recoflow_core::notification::{audience_message, success_message, AudienceDownloads, LinkExpiry};
use recoflow_core::outputs::audience::{manifest_key, AudienceManifest};
use recoflow_core::ports::{ObjectRead, ObjectStore};
use recoflow_core::task::{NotifyOutcome, NotifyState};
use tracing::warn;

use crate::delivery::MessageKind;
use crate::error::NotifyError;
use crate::job_record::{job_record, tell_about_job};
use crate::ports::NotifyPorts;

/// A manifest larger than this is not one.
const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;

pub async fn notify_success<P: NotifyPorts>(ports: &P, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
    let record = job_record(ports, job_id).await?;
    let form = record.form.as_ref();
    let asked = form.and_then(|f| f.notify.as_ref()).is_some_and(|n| n.on_success);
    if !asked {
        return Ok(NotifyOutcome::of(NotifyState::NotAsked));
    }
    if record.notification.is_some() {
        return Ok(NotifyOutcome::of(NotifyState::AlreadyNotified));
    }
    if form.is_some_and(|f| f.output == Output::Audience) {
        if let Some((manifest, downloads)) = audiences(ports, &record).await {
            return tell_about_job(ports, &record, MessageKind::Success, |record, ran, links| {
                audience_message(record, ran, links, &manifest, &downloads)
            })
            .await;
        }
    }
    tell_about_job(ports, &record, MessageKind::Success, success_message).await
}

/// The job's audiences and their download links; `None` (the plain success message goes out
/// instead) when the manifest cannot be read: the message never waits on it.
async fn audiences<P: NotifyPorts>(
    ports: &P,
    record: &JobRecord,
) -> Option<(AudienceManifest, AudienceDownloads)> {
    let (form, delivery) = (record.form.as_ref()?, record.delivery.as_ref()?);
    let settings = ports.settings();
    let bucket = &settings.results_bucket;
    let key = manifest_key(&form.result_set, &delivery.version);
    let body = match ports
        .objects()
        .read_limited(bucket, &key, None, MAX_MANIFEST_BYTES)
        .await
    {
        Ok(ObjectRead::Body(body)) => body,
        other => {
            warn!(key = %key, answer = ?other, "the audiences' manifest cannot be read");
            return None;
        }
    };
    let manifest: AudienceManifest = serde_json::from_slice(&body)
        .inspect_err(|e| warn!(key = %key, error = %e, "the audiences' manifest does not parse"))
        .ok()?;
    let mut urls = Vec::with_capacity(manifest.audiences.len());
    // The message gives one expiry: the soonest link's, unknown if any link's is.
    let mut works_for = Some(settings.presigned_url_lifetime);
    for audience in &manifest.audiences {
        let signed = ports
            .objects()
            .presign_get(bucket, &audience.csv, settings.presigned_url_lifetime)
            .await
            .inspect_err(|e| warn!(csv = %audience.csv, error = %e, "no download link"))
            .ok();
        if let Some(signed) = &signed {
            works_for = works_for.zip(signed.works_for).map(|(a, b)| a.min(b));
        }
        urls.push(signed.map(|s| s.url));
    }
    let expiry = works_for.map(|lifetime| LinkExpiry {
        at: recoflow_core::clock::rfc3339(ports.clock().utc() + lifetime),
        in_seconds: lifetime.as_secs(),
    });
    Some((manifest, AudienceDownloads { urls, expiry }))
}
