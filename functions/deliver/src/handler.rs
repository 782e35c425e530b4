//! Deliver (state `Deliver`, job status `DELIVERING`): publishes a job's scores and fallback
//! lists into the recommendations table as a new version of its result set, then moves the
//! result set's pointer to it in one conditional write. The job is `SUCCEEDED` only then.
//!
//! Work is split across invocations: each one writes until its time budget is spent and says
//! whether it is done; the state machine calls it again until it is. Where the delivery stands
//! (version, file, byte offset, counts) is kept on the job record after every stretch of
//! writes, so a retried, timed-out or resumed invocation continues from there; writes are puts
//! of fixed keys, so the stretch written twice after a crash changes nothing.
//!
//! This file only sequences the steps, one file each: `begin.rs`, `fallbacks.rs`, `scores.rs`,
//! `publish.rs`.

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Delivery;
use recoflow_core::job::JobId;
use recoflow_core::ports::JobStore;
use recoflow_core::task::JobTask;
use serde::Serialize;
use tracing::{info, Instrument};

use crate::begin::{begin_or_resume, Start};
use crate::error::DeliverError;
use crate::excluded::excluded_items;
use crate::fallbacks::write_fallbacks;
use crate::ports::DeliverPorts;
use crate::publish::publish;
use crate::scores::write_scores;

/// The invocation's answer: `done` ends the state machine's delivery loop.
#[derive(Debug, Serialize, PartialEq)]
pub struct DeliveryProgress {
    pub done: bool,
    pub users: u64,
    pub skipped: u64,
}

pub async fn handle<P: DeliverPorts>(ports: &P, task: JobTask) -> Result<DeliveryProgress, DeliverError> {
    let span = tracing::info_span!("deliver", job_id = %task.job_id);
    deliver(ports, &task.job_id).instrument(span).await
}

async fn deliver<P: DeliverPorts>(ports: &P, job_id: &JobId) -> Result<DeliveryProgress, DeliverError> {
    // The time budget counts from here: reading the record and the fallbacks spend it too.
    let started = ports.clock().now();
    let record = ports
        .jobs()
        .get(job_id)
        .await?
        .ok_or_else(|| DeliverError::job_not_found(job_id))?;
    let form = record
        .form
        .clone()
        .ok_or_else(|| DeliverError::job_not_found(job_id))?;
    let mut delivery = match begin_or_resume(ports, &record).await? {
        Start::AlreadyPublished(delivery) => return Ok(progress(&delivery, true)),
        Start::Writing(delivery) => delivery,
    };
    let banned = excluded_items(ports, &form).await?;
    if !delivery.fallbacks_written {
        write_fallbacks(ports, job_id, &form, &mut delivery, &banned).await?;
    }
    if !delivery.scores_done() {
        write_scores(ports, job_id, &form, &mut delivery, &banned, started).await?;
        if !delivery.scores_done() {
            info!(
                users = delivery.users,
                file = delivery.key.as_deref().unwrap_or_default(),
                offset = delivery.offset,
                "time budget spent; continuing in the next invocation"
            );
            return Ok(progress(&delivery, false));
        }
    }
    publish(ports, job_id, &form, &mut delivery, banned).await?;
    Ok(progress(&delivery, true))
}

fn progress(delivery: &Delivery, done: bool) -> DeliveryProgress {
    DeliveryProgress {
        done,
        users: delivery.users,
        skipped: delivery.skipped,
    }
}
