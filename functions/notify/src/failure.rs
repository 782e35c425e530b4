//! NotifyFailure: a failed job's message, once (the job record remembers it, so a retried step
//! sends nothing more). Past a few failures of one cause within the fold window the failure is
//! folded instead: its execution waits for the window to close and asks for the summary.

use recoflow_core::errors::ErrorName;
use recoflow_core::job::{JobFailure, JobId, NotificationState};
use recoflow_core::notification::{failure_message, job_fold_signature};
use recoflow_core::ports::{FoldOutcome, FoldStore};
use recoflow_core::task::{NotifyOutcome, NotifyState};
use tracing::info;

use crate::delivery::{remember, MessageKind, Sent};
use crate::error::NotifyError;
use crate::job_record::{job_record, tell_about_job};
use crate::ports::NotifyPorts;

pub async fn notify_failure<P: NotifyPorts>(ports: &P, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
    let record = job_record(ports, job_id).await?;
    if let Some(done) = &record.notification {
        info!(state = ?done.state, "this job's failure was notified already; nothing sent");
        return Ok(NotifyOutcome::of(NotifyState::AlreadyNotified));
    }
    let failure = record.failure.clone().unwrap_or_else(|| JobFailure {
        error: ErrorName::FailureNotRecorded.to_string(),
        cause: String::new(),
        status: None,
        state: None,
    });
    let signature = job_fold_signature(&record, &failure);
    let settings = ports.settings();
    let decision = ports
        .folds()
        .count_failure(
            &signature,
            job_id,
            &failure.error,
            &failure.cause,
            settings.fold_window_seconds,
            settings.fold_max_messages,
        )
        .await?;
    if let FoldOutcome::Folded { closes_in } = decision {
        remember(
            ports,
            job_id,
            MessageKind::Failure,
            NotificationState::Folded,
            &Sent::nothing(),
        )
        .await?;
        info!(signature = %signature, closes_in, "failure folded into the window's summary");
        return Ok(NotifyOutcome {
            state: NotifyState::Folded,
            wait_seconds: closes_in.max(1),
            signature,
        });
    }
    tell_about_job(ports, &record, MessageKind::Failure, failure_message).await
}
