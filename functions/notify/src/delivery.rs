//! Delivery: posts a message to the webhook within the retry budget, and writes on the job
//! whether its message went out.
//!
//! `429` waits `Retry-After`; 5xx and network errors are retried with backoff and full jitter;
//! answers that will not change (`invalid_payload`, `no_service`, `channel_not_found`,
//! 403/404/410) are not retried. A Slack outage never changes a job's outcome: the job record
//! says `UNDELIVERED` and why.

use std::time::Duration;

use recoflow_core::backoff::full_jitter;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::{JobId, Notification, NotificationState};
use recoflow_core::notification::{read_answer, SlackAnswer};
use recoflow_core::ports::{Clock, JobPatch, JobStore, SecretSource, WebhookPoster, WebhookReply};
use recoflow_core::task::{NotifyOutcome, NotifyState};
use serde_json::Value;
use tracing::warn;

use crate::error::NotifyError;
use crate::ports::NotifyPorts;

/// Backoff of retried posts: from half a second, at most 30 s between attempts.
const BACKOFF_BASE_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 30_000;

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

/// How one delivery went.
pub struct Sent {
    pub delivered: bool,
    pub attempts: u32,
    pub last_error: Option<String>,
}

impl Sent {
    /// Nothing was posted (the failure went into its cause's summary).
    pub fn nothing() -> Self {
        Self::undelivered(0, None)
    }

    fn undelivered(attempts: u32, last_error: Option<String>) -> Self {
        Self {
            delivered: false,
            attempts,
            last_error,
        }
    }
}

/// What one post's answer asks for next.
enum Attempt {
    Delivered,
    Permanent(String),
    Retry { wait: Duration, why: String },
}

fn judge(answer: Result<WebhookReply, String>, attempts: u32) -> Attempt {
    let backoff = || Duration::from_millis(full_jitter(BACKOFF_BASE_MS, attempts, BACKOFF_MAX_MS));
    match answer {
        Ok(reply) => match read_answer(reply.status, &reply.body, reply.retry_after.as_deref()) {
            SlackAnswer::Delivered => Attempt::Delivered,
            SlackAnswer::Permanent(why) => Attempt::Permanent(why),
            SlackAnswer::RetryAfter(seconds) => Attempt::Retry {
                wait: Duration::from_secs(seconds.max(1)),
                why: format!("HTTP 429: rate limited (Retry-After {seconds} s)"),
            },
            SlackAnswer::Transient(why) => Attempt::Retry { wait: backoff(), why },
        },
        Err(network) => Attempt::Retry {
            wait: backoff(),
            why: format!("network: {network}"),
        },
    }
}

/// Posts a message to the webhook within the retry budget.
pub async fn deliver<P: NotifyPorts>(ports: &P, message: &Value) -> Result<Sent, ServiceError> {
    let Some(url) = ports.webhook().secret().await? else {
        let why = "no Slack webhook is configured (see the stack output SlackWebhookParameter)";
        return Ok(Sent::undelivered(0, Some(why.into())));
    };
    let clock = ports.clock();
    let budget = ports.settings().retry_budget;
    let started = clock.now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (wait, why) = match judge(ports.poster().post(&url, message).await, attempts) {
            Attempt::Delivered => {
                return Ok(Sent {
                    delivered: true,
                    attempts,
                    last_error: None,
                })
            }
            Attempt::Permanent(why) => {
                let why = format!("{why} (not retried: it would not change)");
                return Ok(Sent::undelivered(attempts, Some(why)));
            }
            Attempt::Retry { wait, why } => (wait, why),
        };
        let spent = clock.now().duration_since(started);
        if spent + wait > budget {
            let why = format!(
                "{why}; gave up after {attempts} attempt(s) within the {} s retry budget",
                budget.as_secs()
            );
            return Ok(Sent::undelivered(attempts, Some(why)));
        }
        clock.sleep(wait).await;
    }
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
