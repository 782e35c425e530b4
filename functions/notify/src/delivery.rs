//! Delivery: posts a message to the webhook within the retry budget
//! (`recoflow_core::webhook`), and writes on the job whether its message went out. A Slack
//! outage never changes a job's outcome: the job record says `UNDELIVERED` and why.

use recoflow_core::errors::ServiceError;
use recoflow_core::job::{JobId, Notification, NotificationState};
use recoflow_core::ports::{Clock, JobPatch, JobStore, SecretSource};
use recoflow_core::task::{NotifyOutcome, NotifyState};
use recoflow_core::webhook::post_within_budget;
pub use recoflow_core::webhook::Sent;
use serde_json::Value;
use tracing::warn;

use crate::error::NotifyError;
use crate::ports::NotifyPorts;

/// What a job's message was about (the record's `notification.kind`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MessageKind {
    Failure,
    Success,
    Rejection,
    Held,
}

impl MessageKind {
    fn as_str(self) -> &'static str {
        match self {
            MessageKind::Failure => "failure",
            MessageKind::Success => "success",
            MessageKind::Rejection => "rejection",
            MessageKind::Held => "held",
        }
    }
}

/// Posts a message to the webhook within the retry budget.
pub async fn deliver<P: NotifyPorts>(ports: &P, message: &Value) -> Result<Sent, ServiceError> {
    let Some(url) = ports.webhook().secret().await? else {
        let why = "no Slack webhook is configured (see the stack output SlackWebhookParameter)";
        return Ok(Sent::undelivered(0, Some(why.into())));
    };
    let budget = ports.settings().retry_budget;
    Ok(post_within_budget(ports.poster(), ports.clock(), &url, message, budget).await)
}

/// Writes on the job what became of its message.
pub async fn remember<P: NotifyPorts>(
    ports: &P,
    job_id: &JobId,
    kind: MessageKind,
    state: NotificationState,
    sent: &Sent,
) -> Result<(), ServiceError> {
    let notification = Notification {
        state,
        attempts: sent.attempts,
        last_error: sent.last_error.clone(),
        kind: kind.as_str().to_owned(),
        at: ports.clock().rfc3339_now(),
    };
    ports
        .jobs()
        .patch(job_id, JobPatch::Notification(notification), None)
        .await?;
    Ok(())
}

/// Sends a job's own message and writes on the job whether it went out: `DELIVERED` or
/// `UNDELIVERED`.
pub async fn tell<P: NotifyPorts>(
    ports: &P,
    job_id: &JobId,
    kind: MessageKind,
    message: &Value,
) -> Result<NotifyOutcome, NotifyError> {
    let sent = deliver(ports, message).await?;
    let (state, outcome) = if sent.delivered {
        (NotificationState::Delivered, NotifyState::Delivered)
    } else {
        warn!(kind = kind.as_str(), error = ?sent.last_error, "message not delivered");
        (NotificationState::Undelivered, NotifyState::Undelivered)
    };
    remember(ports, job_id, kind, state, &sent).await?;
    Ok(NotifyOutcome::of(outcome))
}
