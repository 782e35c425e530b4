//! NotifySuccess: a succeeded job's message, when its form asks (`notify.on_success`), once.

use recoflow_core::job::JobId;
use recoflow_core::notification::success_message;
use recoflow_core::task::{NotifyOutcome, NotifyState};

use crate::delivery::MessageKind;
use crate::error::NotifyError;
use crate::job_record::{job_record, tell_about_job};
use crate::ports::NotifyPorts;

pub async fn notify_success<P: NotifyPorts>(ports: &P, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
    let record = job_record(ports, job_id).await?;
    let asked = record
        .form
        .as_ref()
        .and_then(|f| f.notify.as_ref())
        .is_some_and(|n| n.on_success);
    if !asked {
        return Ok(NotifyOutcome::of(NotifyState::NotAsked));
    }
    if record.notification.is_some() {
        return Ok(NotifyOutcome::of(NotifyState::AlreadyNotified));
    }
    tell_about_job(ports, &record, MessageKind::Success, success_message).await
}
