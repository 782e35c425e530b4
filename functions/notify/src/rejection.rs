//! Rejected forms: intake writes a report beside each refused form (`rejected/<form>.errors.json`
//! in the forms bucket); its arrival tells the form's submitter what to fix, once.

use aws_lambda_events::event::s3::S3Event;
use recoflow_core::forms_bucket::{is_rejection_report, RejectionReport};
use recoflow_core::notification::rejection_message;
use recoflow_core::ports::{ObjectRead, ObjectStore};
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::task::{NotifyOutcome, NotifyState};
use tracing::warn;

use crate::delivery::{tell, MessageKind};
use crate::error::NotifyError;
use crate::job_record::job_record;
use crate::ports::NotifyPorts;

/// A report is a short JSON document; anything larger is not one.
const MAX_REPORT_BYTES: u64 = 1024 * 1024;

/// Every report an S3 event names; the outcome is the last one's.
pub async fn notify_rejections<P: NotifyPorts>(
    ports: &P,
    event: &S3Event,
) -> Result<NotifyOutcome, NotifyError> {
    let mut last = NotifyOutcome::of(NotifyState::NoReport);
    for record in &event.records {
        let bucket = record.s3.bucket.name.clone().unwrap_or_default();
        let key = decode_event_key(record.s3.object.key.as_deref().unwrap_or_default());
        if is_rejection_report(&key) {
            last = notify_rejection(ports, &bucket, &key).await?;
        }
    }
    Ok(last)
}

async fn notify_rejection<P: NotifyPorts>(
    ports: &P,
    bucket: &str,
    key: &str,
) -> Result<NotifyOutcome, NotifyError> {
    let body = match ports
        .objects()
        .read_limited(bucket, key, None, MAX_REPORT_BYTES)
        .await?
    {
        ObjectRead::Body(body) => body,
        ObjectRead::TooLarge { .. } | ObjectRead::Missing => {
            return Ok(NotifyOutcome::of(NotifyState::NoReport))
        }
    };
    let Ok(report) = serde_json::from_slice::<RejectionReport>(&body) else {
        warn!(key, "not a rejection report; nothing sent");
        return Ok(NotifyOutcome::of(NotifyState::NoReport));
    };
    let record = job_record(ports, &report.job_id).await?;
    if record.notification.is_some() {
        return Ok(NotifyOutcome::of(NotifyState::AlreadyNotified));
    }
    let report_uri = format!("s3://{bucket}/{key}");
    let message = rejection_message(&report.job_id, &report.form, &report_uri, &report.problems);
    tell(ports, &report.job_id, MessageKind::Rejection, &message).await
}
