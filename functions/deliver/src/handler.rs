//! Deliver (state `Deliver`, job status `DELIVERING`): publishes a job's scores and fallback
//! lists into the recommendations table as a new version of its result set, measuring it as it
//! writes; the quality gate then judges it, and only a version that passes has the result set's
//! pointer moved to it in one conditional write (the job `SUCCEEDED`). One that fails is held
//! (the job `HELD`) or fails the job (`QualityGateFailed`), as the form's gate says.
//!
//! Work is split across invocations: each one writes until its time budget is spent and says
//! whether it is done; the state machine calls it again until it is. Where the delivery stands
//! (version, file, byte offset, counts) is kept on the job record after every stretch of
//! writes, so a retried, timed-out or resumed invocation continues from there; writes are puts
//! of fixed keys, so the stretch written twice after a crash changes nothing.
//!
//! This file only sequences the steps, one file each: `begin.rs`, `fallbacks.rs`, `scores.rs`,
//! `publish.rs` (with `judge.rs`). Similar items have fallbacks of their own
//! (`similar_lists.rs`: each item's category, popular items per category); an audience is
//! written whole by `audiences.rs` instead of fallbacks and scores.

use std::time::Instant;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Delivery;
use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::{JobForm, Output};
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::ports::JobStore;
use recoflow_core::task::JobTask;
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::audiences::write_audiences;
use crate::begin::{begin_or_resume, Start};
use crate::error::DeliverError;
use crate::excluded::excluded_items;
use crate::fallbacks::write_fallbacks;
use crate::ports::DeliverPorts;
use crate::publish::{publish, Outcome};
use crate::records::note_last_job;
use crate::scores::{measure_written_files, write_scores};
use crate::similar_lists::write_similar_fallbacks;

/// The invocation's answer: `done` ends the state machine's delivery loop; `held` (with
/// `done`) says the quality gate held the version back, and the state machine tells Slack.
#[derive(Debug, Serialize, PartialEq)]
pub struct DeliveryProgress {
    pub done: bool,
    pub held: bool,
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
    let delivered = deliver_version(ports, &record, &form, started).await;
    if let Err(err) = &delivered {
        note_failed(ports, &form, job_id, err).await;
    }
    delivered
}

async fn deliver_version<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    started: Instant,
) -> Result<DeliveryProgress, DeliverError> {
    let job_id = &record.job_id;
    let mut delivery = match begin_or_resume(ports, record, form).await? {
        Start::Finished { delivery, held } => return Ok(progress(&delivery, true, held)),
        Start::Writing(delivery) => delivery,
    };
    let banned = excluded_items(ports, form).await?;
    if !delivery.measured {
        measure_written_files(ports, job_id, form, &mut delivery, &banned).await?;
    }
    if !delivery.fallbacks_written {
        match form.output {
            Output::UserItems => write_fallbacks(ports, job_id, form, &mut delivery, &banned).await?,
            Output::SimilarItems => {
                write_similar_fallbacks(ports, job_id, form, &mut delivery, &banned).await?
            }
            // An audience is written whole: its lines, its CSVs, its manifest.
            Output::Audience => write_audiences(ports, record, form, &mut delivery).await?,
        }
    }
    if !delivery.scores_done() {
        write_scores(ports, job_id, form, &mut delivery, &banned, started).await?;
        if !delivery.scores_done() {
            info!(
                users = delivery.users,
                file = delivery.key.as_deref().unwrap_or_default(),
                offset = delivery.offset,
                "time budget spent; continuing in the next invocation"
            );
            return Ok(progress(&delivery, false, false));
        }
    }
    let outcome = publish(ports, record, form, &mut delivery, banned).await?;
    Ok(progress(&delivery, true, outcome == Outcome::Held))
}

/// A delivery refused for good by what it read (its scores, its data) ends the job `FAILED`:
/// the result set's entry says so. The gate's own failure is noted where it is decided; other
/// errors are retried or end the job otherwise. The delivery's error is the one reported.
async fn note_failed<P: DeliverPorts>(ports: &P, form: &JobForm, job_id: &JobId, err: &DeliverError) {
    if !matches!(
        err.error_name(),
        ErrorName::ScoresInvalid | ErrorName::DatasetInvalid
    ) {
        return;
    }
    if let Err(note_err) = note_last_job(ports, &form.result_set, job_id, JobStatus::Failed).await {
        warn!(error = %note_err, "the result set's entry could not be told the job failed");
    }
}

fn progress(delivery: &Delivery, done: bool, held: bool) -> DeliveryProgress {
    DeliveryProgress {
        done,
        held,
        users: delivery.users,
        skipped: delivery.skipped,
    }
}
