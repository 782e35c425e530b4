//! Reading Slack's answer to a webhook post: delivered, retry (when), or give up.

use super::markup::shorten;

/// What Slack's answer to a webhook post means.
#[derive(Debug, Clone, PartialEq)]
pub enum SlackAnswer {
    Delivered,
    /// Rate limited: try again after this many seconds (`Retry-After`).
    RetryAfter(u64),
    /// A server or network error: worth another try with backoff.
    Transient(String),
    /// An answer that will not change (bad payload, revoked webhook): do not retry.
    Permanent(String),
}

/// Reads a webhook answer: HTTP status, body and `Retry-After`.
pub fn read_answer(status: u16, body: &str, retry_after: Option<&str>) -> SlackAnswer {
    let body = body.trim();
    match status {
        200..=299 => SlackAnswer::Delivered,
        429 => SlackAnswer::RetryAfter(retry_after.and_then(|v| v.trim().parse().ok()).unwrap_or(1)),
        403 | 404 | 410 => SlackAnswer::Permanent(format!("HTTP {status}: {}", shorten(body, 200))),
        400 if matches!(
            body,
            "invalid_payload"
                | "no_service"
                | "channel_not_found"
                | "channel_is_archived"
                | "action_prohibited"
                | "no_text"
                | "posting_to_general_channel_denied"
                | "too_many_attachments"
                | "invalid_token"
        ) =>
        {
            SlackAnswer::Permanent(format!("HTTP 400: {body}"))
        }
        400..=499 => SlackAnswer::Permanent(format!("HTTP {status}: {}", shorten(body, 200))),
        _ => SlackAnswer::Transient(format!("HTTP {status}: {}", shorten(body, 200))),
    }
}
