//! Posting a message to a webhook (Slack) within a retry budget.
//!
//! `429` waits `Retry-After`; 5xx and network errors are retried with backoff and full jitter;
//! answers that will not change (`invalid_payload`, `no_service`, `channel_not_found`,
//! 403/404/410) are not retried. Every function that tells Slack something posts through here.

use std::time::Duration;

use serde_json::Value;

use crate::backoff::full_jitter;
use crate::clock::Clock;
use crate::notification::{read_answer, SlackAnswer};
use crate::ports::{WebhookPoster, WebhookReply};

/// Backoff of retried posts: from half a second, at most 30 s between attempts.
const BACKOFF_BASE_MS: u64 = 500;
const BACKOFF_MAX_MS: u64 = 30_000;

/// How one delivery went.
#[derive(Debug, Clone, PartialEq)]
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

    pub fn undelivered(attempts: u32, last_error: Option<String>) -> Self {
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

/// Posts `message` to `url`, retrying within `budget`.
pub async fn post_within_budget<W: WebhookPoster, C: Clock>(
    poster: &W,
    clock: &C,
    url: &str,
    message: &Value,
    budget: Duration,
) -> Sent {
    let started = clock.now();
    let mut attempts = 0;
    loop {
        attempts += 1;
        let (wait, why) = match judge(poster.post(url, message).await, attempts) {
            Attempt::Delivered => {
                return Sent {
                    delivered: true,
                    attempts,
                    last_error: None,
                }
            }
            Attempt::Permanent(why) => {
                let why = format!("{why} (not retried: it would not change)");
                return Sent::undelivered(attempts, Some(why));
            }
            Attempt::Retry { wait, why } => (wait, why),
        };
        let spent = clock.now().duration_since(started);
        if spent + wait > budget {
            let why = format!(
                "{why}; gave up after {attempts} attempt(s) within the {} s retry budget",
                budget.as_secs()
            );
            return Sent::undelivered(attempts, Some(why));
        }
        clock.sleep(wait).await;
    }
}
