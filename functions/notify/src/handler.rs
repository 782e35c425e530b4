//! Notify: tells Slack, once and clearly. Dispatches what it is invoked with to the state (or
//! trigger) it serves: a failed job's message (`failure`), a succeeded job's when its form asks
//! (`success`), the summary of failures folded together (`summary`), a held version's (`held`,
//! with charts), the freshness check (`freshness`, on a schedule), and a rejected form's
//! (`rejection`, from the S3 event of intake's report). Delivery and its retries: `delivery`.
//!
//! No floods: a job's message is sent once (the job record remembers it, so a retried step does
//! not send it again); waiting for quota sends nothing (it is not a failure); and past a few
//! failures of one cause within a window, the rest are folded into one summary naming every job.

use aws_lambda_events::event::s3::S3Event;
use recoflow_core::task::{NotifyOutcome, NotifyTask};
use serde::Deserialize;
use tracing::Instrument;

use crate::error::NotifyError;
use crate::failure::notify_failure;
use crate::freshness::check_freshness;
use crate::held::notify_held;
use crate::ports::NotifyPorts;
use crate::rejection::notify_rejections;
use crate::success::notify_success;
use crate::summary::send_summary;

/// What the function is invoked with: a state machine task or an S3 event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum NotifyEvent {
    Task(NotifyTask),
    S3(S3Event),
}

pub async fn handle<P: NotifyPorts>(ports: &P, event: NotifyEvent) -> Result<NotifyOutcome, NotifyError> {
    match event {
        NotifyEvent::Task(NotifyTask::Failure { job_id }) => {
            let span = tracing::info_span!("notify", job_id = %job_id);
            notify_failure(ports, &job_id).instrument(span).await
        }
        NotifyEvent::Task(NotifyTask::Success { job_id }) => {
            let span = tracing::info_span!("notify", job_id = %job_id);
            notify_success(ports, &job_id).instrument(span).await
        }
        NotifyEvent::Task(NotifyTask::Summary { signature }) => send_summary(ports, &signature).await,
        NotifyEvent::Task(NotifyTask::Held { job_id }) => {
            let span = tracing::info_span!("notify", job_id = %job_id);
            notify_held(ports, &job_id).instrument(span).await
        }
        NotifyEvent::Task(NotifyTask::Freshness) => check_freshness(ports).await,
        NotifyEvent::S3(event) => notify_rejections(ports, &event).await,
    }
}
