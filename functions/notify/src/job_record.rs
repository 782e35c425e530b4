//! The job a message is about: its record, and its own message (failure, success, held) built
//! from it, with how long it ran and its links, sent to the channel its form asks for.

use recoflow_core::clock::parse_rfc3339;
use recoflow_core::errors::StepError;
use recoflow_core::job::{JobId, JobRecord};
use recoflow_core::notification::Links;
use recoflow_core::ports::JobStore;
use recoflow_core::task::NotifyOutcome;
use serde_json::Value;

use crate::delivery::{tell, MessageKind};
use crate::error::NotifyError;
use crate::links::links;
use crate::ports::NotifyPorts;

pub async fn job_record<P: NotifyPorts>(ports: &P, job_id: &JobId) -> Result<JobRecord, NotifyError> {
    ports
        .jobs()
        .get(job_id)
        .await?
        .ok_or_else(|| StepError::JobNotFound(job_id.clone()).into())
}

/// Sends the job's message, built from its record, how long it ran (seconds) and its links, to
/// its form's channel, and writes on the job whether it went out.
pub async fn tell_about_job<P: NotifyPorts>(
    ports: &P,
    record: &JobRecord,
    kind: MessageKind,
    build: impl FnOnce(&JobRecord, u64, &Links) -> Value,
) -> Result<NotifyOutcome, NotifyError> {
    let message = build(record, ran_seconds(record), &links(ports, record).await);
    send_job_message(ports, record, kind, message).await
}

/// Sends a message about the job (to its form's channel) and writes on the job whether it
/// went out.
pub async fn send_job_message<P: NotifyPorts>(
    ports: &P,
    record: &JobRecord,
    kind: MessageKind,
    message: Value,
) -> Result<NotifyOutcome, NotifyError> {
    tell(ports, &record.job_id, kind, &with_channel(message, record)).await
}

/// A form's `notify.slack_channel`, for webhooks that honour a channel override.
fn with_channel(mut message: Value, record: &JobRecord) -> Value {
    if let Some(channel) = record
        .form
        .as_ref()
        .and_then(|f| f.notify.as_ref())
        .and_then(|n| n.slack_channel.clone())
    {
        message["channel"] = Value::String(channel);
    }
    message
}

/// Seconds from the job's creation to its last status change.
fn ran_seconds(record: &JobRecord) -> u64 {
    match (
        parse_rfc3339(&record.created_at),
        record.history.last().and_then(|c| parse_rfc3339(&c.at)),
    ) {
        (Some(start), Some(end)) => (end - start).whole_seconds().max(0) as u64,
        _ => 0,
    }
}
