//! Slack notifications: what a failure is (so the reader knows where to look first), the
//! messages (Block Kit JSON with a plain-text fallback; outside text escaped), how to read
//! Slack's answers (retry or not), and when failures sharing a cause are folded into one summary
//! instead of a flood.

mod answer;
mod classify;
mod fold;
pub mod markup;
mod messages;
#[cfg(test)]
mod tests;

pub use answer::{read_answer, SlackAnswer};
pub use classify::{classify, FailureClass};
pub use fold::job_fold_signature;
pub use markup::human_duration;
pub use messages::{
    audience_message, execution_console_url, failure_message, fold_summary_message, held_message,
    logs_console_url, promote_page_url, rejection_message, result_set_page_url, stale_message,
    success_message, AudienceDownloads, HeldRule, LinkExpiry, Links, ResultSetLinks, Staleness,
};
