//! Intake: a form dropped under `submissions/` in the forms bucket becomes a job, valid
//! (`valid`) or rejected (`rejected`).
//!
//! Every step is idempotent, so a duplicated or retried S3 event is harmless: the job id comes
//! from the object version, the record is written only if absent, and the execution is named
//! by the job id.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::MAX_FORM_BYTES;
use recoflow_core::forms_bucket::SUBMISSIONS_PREFIX;
use recoflow_core::job::{JobId, JobSource};
use recoflow_core::ports::{JobStore, ObjectRead, ObjectStore};
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::validation::{too_large_problem, validate_form};
use tracing::{info, warn, Instrument};

use crate::error::IntakeError;
use crate::ports::IntakePorts;
use crate::rejected::{readable_job_name, reject};
use crate::submission::{Outcome, Submission};
use crate::valid::accept;

/// Handles every record of the event. A service error fails the invocation so Lambda retries
/// it (bounded; then the dead-letter queue keeps it): retrying finished records is harmless.
pub async fn handle_event<P: IntakePorts>(ports: &P, event: S3Event) -> Result<Vec<Outcome>, IntakeError> {
    let mut outcomes = Vec::with_capacity(event.records.len());
    let mut first_error = None;
    for record in &event.records {
        let handled = match submission_of(record) {
            Ok(submission) => {
                let span = tracing::info_span!("submission", job_id = %submission.job_id);
                let announced_size = record.s3.object.size.unwrap_or(0).max(0) as u64;
                handle_submission(ports, &submission, announced_size)
                    .instrument(span)
                    .await
            }
            Err(ignored) => Ok(ignored),
        };
        match handled {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                warn!(error = %err, "submission not processed; the invocation will be retried");
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(outcomes),
    }
}

/// The submission an event record names, or why it is not one.
fn submission_of(record: &S3EventRecord) -> Result<Submission, Outcome> {
    let bucket = record.s3.bucket.name.clone().unwrap_or_default();
    let key = decode_event_key(record.s3.object.key.as_deref().unwrap_or_default());
    if !key.starts_with(SUBMISSIONS_PREFIX) || key.ends_with('/') {
        return Err(Outcome::Ignored {
            reason: format!("not a form under {SUBMISSIONS_PREFIX}"),
            key,
        });
    }
    // In a versioned bucket the event names the version: that version is the job, even if
    // the key was overwritten since.
    let version_id = record
        .s3
        .object
        .version_id
        .clone()
        .filter(|v| !v.is_empty() && v != "null");
    let version = version_id
        .clone()
        .or_else(|| record.s3.object.e_tag.clone())
        .unwrap_or_default();
    Ok(Submission {
        job_id: JobId::for_s3_object(&bucket, &key, &version),
        source: JobSource::S3 {
            bucket: bucket.clone(),
            key: key.clone(),
            version,
        },
        bucket,
        key,
        version_id,
    })
}

/// Reads the form (unless the event says it is too large) and accepts or rejects it.
async fn handle_submission<P: IntakePorts>(
    ports: &P,
    submission: &Submission,
    announced_size: u64,
) -> Result<Outcome, ServiceError> {
    // The event carries the size: an oversized form is refused without reading it.
    if announced_size > MAX_FORM_BYTES as u64 {
        return reject(ports, submission, None, vec![too_large_problem(announced_size)]).await;
    }
    let read = ports
        .objects()
        .read_limited(
            &submission.bucket,
            &submission.key,
            submission.version_id.as_deref(),
            MAX_FORM_BYTES as u64,
        )
        .await?;
    let body = match read {
        ObjectRead::Body(body) => body,
        ObjectRead::TooLarge { size } => {
            return reject(ports, submission, None, vec![too_large_problem(size)]).await
        }
        ObjectRead::Missing => return missing(ports, submission).await,
    };
    match validate_form(&body, ports.rules()) {
        Ok(form) => accept(ports, submission, form, &body).await,
        Err(problems) => reject(ports, submission, readable_job_name(&body), problems).await,
    }
}

/// The object is gone: either a duplicate event after we moved it, or deleted by its owner.
async fn missing<P: IntakePorts>(ports: &P, submission: &Submission) -> Result<Outcome, ServiceError> {
    if ports.jobs().get(&submission.job_id).await?.is_some() {
        info!("form already processed; duplicate delivery");
        return Ok(Outcome::Duplicate {
            job_id: submission.job_id.to_string(),
        });
    }
    warn!(key = %submission.key, "form deleted before it could be read");
    Ok(Outcome::Ignored {
        key: submission.key.clone(),
        reason: "the object no longer exists".to_owned(),
    })
}
