//! NotifyHeld: a job whose version the quality gate held gets one message (the job record
//! remembers it, so a retried step sends nothing more): each failed rule with its value, bound
//! and the value before, a chart of each failed metric, and buttons to the result set's page
//! and to promote the version.

use recoflow_core::job::JobId;
use recoflow_core::notification::held_message;
use recoflow_core::ports::VersionStore;
use recoflow_core::task::{NotifyOutcome, NotifyState};
use tracing::info;

use crate::delivery::MessageKind;
use crate::error::NotifyError;
use crate::held_charts::rules_with_charts;
use crate::job_record::{job_record, send_job_message};
use crate::links::held_links;
use crate::ports::NotifyPorts;

pub async fn notify_held<P: NotifyPorts>(ports: &P, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
    let record = job_record(ports, job_id).await?;
    if let Some(done) = &record.notification {
        info!(state = ?done.state, "this job's hold was notified already; nothing sent");
        return Ok(NotifyOutcome::of(NotifyState::AlreadyNotified));
    }
    let (Some(form), Some(delivery)) = (&record.form, &record.delivery) else {
        return Ok(NotifyOutcome::of(NotifyState::NotHeld));
    };
    let version = ports
        .recommendations()
        .version(&form.result_set, &delivery.version)
        .await?;
    // Held, never published, and not discarded since: else there is nothing to decide.
    let held = version.filter(|v| v.held && v.published_at.is_none() && v.discarded.is_none());
    let Some((version, gate)) = held.and_then(|v| v.gate.clone().map(|gate| (v, gate))) else {
        info!(version = %delivery.version, "the job's version is not held; nothing sent");
        return Ok(NotifyOutcome::of(NotifyState::NotHeld));
    };
    let rules = rules_with_charts(ports, &version, &gate.failures, form.quality_gate.as_ref()).await;
    let links = held_links(ports, &record, &form.result_set, &version.version).await;
    let message = held_message(&record, &version.version, &rules, &links);
    send_job_message(ports, &record, MessageKind::Held, message).await
}
