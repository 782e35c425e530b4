//! Deliver (states `Deliver`, `DeliverScoreFiles`' workers and `Publish`, job status
//! `DELIVERING`): publishes a job's scores and fallback lists into the recommendations table as
//! a new version of its result set, measuring it as it writes; the quality gate then judges it,
//! and only a version that passes has the result set's pointer moved to it in one conditional
//! write (the job `SUCCEEDED`). One that fails is held (the job `HELD`) or fails the job
//! (`QualityGateFailed`), as the form's gate says.
//!
//! The work is split in steps (`recoflow_core::task::DeliverTask`), so a large delivery fans
//! out: `begin` starts the version; a Distributed Map runs one `fallbacks` worker per share of the users
//! (their counts, their segments); the state machine's Distributed Map then runs one `file`
//! worker per score file, at once. Each worker writes as far as one invocation's time budget
//! goes, is invoked again until its part is done, and is retried on its own when it fails.
//! `publish` runs once every worker has finished: it merges the shares' counts into the popular
//! lists and the files' counts and metrics. Writes are puts of fixed keys, so a stretch written
//! twice after a crash changes nothing.
//!
//! This file only sequences the steps, one file each: `begin.rs`, `fallbacks.rs`, `scores.rs`
//! (with `file_progress.rs`), `publish.rs` (with `judge.rs`). Similar items have fallbacks of
//! their own (`similar_lists.rs`: each item's category, popular items per category); an
//! audience is written whole by `audiences.rs` in `begin`, and has no score file workers.

use std::time::Instant;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Delivery;
use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::form::{JobForm, Output};
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::ports::{JobStore, VersionStore};
use recoflow_core::quality::MetricsPartial;
use recoflow_core::task::DeliverTask;
use serde::Serialize;
use tracing::{info, warn, Instrument};

use crate::audiences::write_audiences;
use crate::begin::{begin_or_resume, saved, Start};
use crate::cursor::save;
use crate::error::DeliverError;
use crate::excluded::excluded_items;
use crate::fallbacks::{deliver_share, write_merged_fallbacks, FallbackShare};
use crate::file_progress::{merge_delivered, ScoreFile};
use crate::ports::DeliverPorts;
use crate::publish::{publish, Outcome};
use crate::score_files::is_score_file;
use crate::scores::write_score_file;
use crate::similar_lists::write_similar_fallbacks;

/// What a step answers the state machine.
#[derive(Debug, Serialize, PartialEq)]
#[serde(untagged)]
pub enum DeliverAnswer {
    Begun(Begun),
    Fallbacks(SharesDelivered),
    File(FileDelivered),
    Published(DeliveryProgress),
}

/// `begin`'s answer: the fallback shares to count (users' lists only), where the score files
/// are, for the Distributed Map's reader, and whether there are any for workers to write (an
/// audience is written whole in `begin`).
#[derive(Debug, Serialize, PartialEq)]
pub struct Begun {
    pub fallback_shares: Vec<u32>,
    pub bucket: String,
    pub prefix: String,
    pub workers_needed: bool,
}

/// A fallback share worker's answer: `done` ends its share's loop.
#[derive(Debug, Serialize, PartialEq)]
pub struct SharesDelivered {
    pub done: bool,
    /// Users whose segment the share has written.
    pub users: u64,
}

/// A worker's answer: `done` ends its file's loop.
#[derive(Debug, Serialize, PartialEq)]
pub struct FileDelivered {
    pub done: bool,
    pub users: u64,
    pub skipped: u64,
}

/// `publish`'s answer: `held` says the quality gate held the version back, and the state
/// machine tells Slack.
#[derive(Debug, Serialize, PartialEq)]
pub struct DeliveryProgress {
    pub done: bool,
    pub held: bool,
    pub users: u64,
    pub skipped: u64,
}

/// The Lambda's input as it comes: a step of the delivery, or a clear refusal.
pub async fn handle_input<P: DeliverPorts>(
    ports: &P,
    input: serde_json::Value,
) -> Result<DeliverAnswer, DeliverError> {
    let task = serde_json::from_value(input).map_err(|e| DeliverError::TaskInvalid(e.to_string()))?;
    handle(ports, task).await
}

pub async fn handle<P: DeliverPorts>(ports: &P, task: DeliverTask) -> Result<DeliverAnswer, DeliverError> {
    // The time budget counts from here: reading the record and the banned items spend it too.
    let started = ports.clock().now();
    let span = tracing::info_span!("deliver", job_id = %task.job_id());
    async {
        match &task {
            DeliverTask::Begin { job_id } => begin(ports, job_id).await.map(DeliverAnswer::Begun),
            DeliverTask::Fallbacks { job_id, share } => deliver_fallbacks(ports, job_id, *share, started)
                .await
                .map(DeliverAnswer::Fallbacks),
            DeliverTask::File { job_id, key } => deliver_file(ports, job_id, key, started)
                .await
                .map(DeliverAnswer::File),
            DeliverTask::Publish { job_id } => {
                publish_version(ports, job_id).await.map(DeliverAnswer::Published)
            }
        }
    }
    .instrument(span)
    .await
}

/// Step `begin`.
pub async fn begin<P: DeliverPorts>(ports: &P, job_id: &JobId) -> Result<Begun, DeliverError> {
    let (record, form) = load(ports, job_id).await?;
    noted(ports, &form, job_id, begin_step(ports, &record, &form).await).await
}

/// Step `fallbacks`: one fallback share's worker; the budget counts from `started`.
pub async fn deliver_fallbacks<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    share: u32,
    started: Instant,
) -> Result<SharesDelivered, DeliverError> {
    let (record, form) = load(ports, job_id).await?;
    noted(
        ports,
        &form,
        job_id,
        fallbacks_step(ports, &record, &form, share, started).await,
    )
    .await
}

/// Step `file`: one score file's worker; the budget counts from `started`.
pub async fn deliver_file<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    key: &str,
    started: Instant,
) -> Result<FileDelivered, DeliverError> {
    let (record, form) = load(ports, job_id).await?;
    noted(
        ports,
        &form,
        job_id,
        file_step(ports, &record, &form, key, started).await,
    )
    .await
}

/// Step `publish`.
pub async fn publish_version<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
) -> Result<DeliveryProgress, DeliverError> {
    let (record, form) = load(ports, job_id).await?;
    noted(ports, &form, job_id, publish_step(ports, &record, &form).await).await
}

/// A step's outcome, its failure noted on the result set's entry when it ends the job.
async fn noted<P: DeliverPorts, T>(
    ports: &P,
    form: &JobForm,
    job_id: &JobId,
    outcome: Result<T, DeliverError>,
) -> Result<T, DeliverError> {
    if let Err(err) = &outcome {
        note_failed(ports, form, job_id, err).await;
    }
    outcome
}

async fn load<P: DeliverPorts>(ports: &P, job_id: &JobId) -> Result<(JobRecord, JobForm), DeliverError> {
    let record = ports
        .jobs()
        .get(job_id)
        .await?
        .ok_or_else(|| DeliverError::job_not_found(job_id))?;
    let form = record
        .form
        .clone()
        .ok_or_else(|| DeliverError::job_not_found(job_id))?;
    Ok((record, form))
}

/// Starts (or finds) the version and writes the fallbacks of similar items, or an audience
/// whole; a users' lists version's fallbacks are counted by share workers.
async fn begin_step<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<Begun, DeliverError> {
    let bucket = ports.settings().results_bucket.clone();
    let mut delivery = match begin_or_resume(ports, record, form).await? {
        Start::Finished { delivery, .. } => {
            return Ok(Begun {
                fallback_shares: Vec::new(),
                bucket,
                prefix: delivery.prefix,
                workers_needed: false,
            })
        }
        Start::Writing(delivery) => delivery,
    };
    if !delivery.fallbacks_written {
        let job_id = &record.job_id;
        match form.output {
            Output::UserItems => {}
            Output::SimilarItems => {
                let banned = excluded_items(ports, form).await?;
                write_similar_fallbacks(ports, job_id, form, &mut delivery, &banned).await?
            }
            // An audience is written whole: its lines, its CSVs, its manifest.
            Output::Audience => write_audiences(ports, record, form, &mut delivery).await?,
        }
    }
    let fallback_shares = match delivery.fallbacks_written {
        true => Vec::new(),
        false => (0..delivery.fallback_shares).collect(),
    };
    Ok(Begun {
        fallback_shares,
        bucket,
        prefix: delivery.prefix,
        workers_needed: form.output != Output::Audience,
    })
}

/// One fallback share, as far as this invocation's budget goes.
async fn fallbacks_step<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    index: u32,
    started: Instant,
) -> Result<SharesDelivered, DeliverError> {
    let delivery = match saved(record)? {
        Some(Start::Writing(delivery)) => delivery,
        // A worker retried after the version was published has nothing left to do.
        Some(Start::Finished { .. }) => return Ok(SharesDelivered { done: true, users: 0 }),
        None => return Err(not_begun(record)),
    };
    if delivery.fallbacks_written {
        return Ok(SharesDelivered { done: true, users: 0 });
    }
    let share = FallbackShare::of(&record.job_id, index, delivery.fallback_shares)?;
    ports.writing_one_of(delivery.fallback_shares.into());
    let banned = excluded_items(ports, form).await?;
    let progress = deliver_share(ports, &record.job_id, form, &delivery, &share, &banned, started).await?;
    info!(
        share = index,
        of = delivery.fallback_shares,
        users = progress.users,
        done = progress.done,
        "fallback share written"
    );
    Ok(SharesDelivered {
        done: progress.done,
        users: progress.users,
    })
}

/// One score file, as far as this invocation's budget goes.
async fn file_step<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    key: &str,
    started: Instant,
) -> Result<FileDelivered, DeliverError> {
    let finished = FileDelivered {
        done: true,
        users: 0,
        skipped: 0,
    };
    let delivery = match saved(record)? {
        Some(Start::Writing(delivery)) => delivery,
        // A worker retried after the version was published has nothing left to do.
        Some(Start::Finished { .. }) => return Ok(finished),
        None => return Err(not_begun(record)),
    };
    // The Map's reader lists every object under the prefix; only score files are written.
    if !is_score_file(key) {
        return Ok(finished);
    }
    let file = ScoreFile::of(&record.job_id, &delivery.prefix, key)?;
    ports.writing_one_of(delivery.score_files_listed);
    let banned = excluded_items(ports, form).await?;
    let progress = write_score_file(ports, &record.job_id, form, &delivery, &banned, &file, started).await?;
    if progress.done() {
        info!(
            file = key,
            users = progress.users,
            skipped = progress.skipped,
            "score file delivered"
        );
    } else {
        info!(
            file = key,
            offset = progress.offset,
            users = progress.users,
            "time budget spent; the file goes on in the next invocation"
        );
    }
    Ok(FileDelivered {
        done: progress.done(),
        users: progress.users,
        skipped: progress.skipped,
    })
}

/// Every worker has finished: their counts and metrics merged, the version judged and
/// published or held.
async fn publish_step<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<DeliveryProgress, DeliverError> {
    let mut delivery = match saved(record)? {
        Some(Start::Writing(delivery)) => delivery,
        Some(Start::Finished { delivery, held }) => return Ok(progress(&delivery, held)),
        None => return Err(not_begun(record)),
    };
    let banned = excluded_items(ports, form).await?;
    if form.output == Output::UserItems && !delivery.fallbacks_written {
        write_merged_fallbacks(ports, &record.job_id, form, &mut delivery, &banned).await?;
    }
    let merged = match form.output {
        // An audience's counts and metrics were kept when it was written.
        Output::Audience => MetricsPartial::default(),
        Output::UserItems | Output::SimilarItems => {
            let merged = merge_delivered(ports, &record.job_id, &delivery.prefix).await?;
            delivery.files_read = merged.files;
            delivery.users = merged.users;
            delivery.skipped = merged.skipped;
            save(ports, &record.job_id, &delivery).await?;
            merged.metrics
        }
    };
    let outcome = publish(ports, record, form, &mut delivery, banned, merged).await?;
    Ok(progress(&delivery, outcome == Outcome::Held))
}

/// A worker or publish of a job whose delivery never began: the state machine runs `begin`
/// first, so only a job moved on meanwhile gets here.
fn not_begun(record: &JobRecord) -> DeliverError {
    DeliverError::NotDeliverable {
        job_id: record.job_id.clone(),
        status: record.status,
    }
}

/// A delivery refused for good by what it read (its scores, its data) or left unfinished by
/// its workers ends the job `FAILED`: the result set's entry says so. The gate's own failure is
/// noted where it is decided; other errors are retried or end the job otherwise. The
/// delivery's error is the one reported.
async fn note_failed<P: DeliverPorts>(ports: &P, form: &JobForm, job_id: &JobId, err: &DeliverError) {
    if !matches!(
        err.error_name(),
        ErrorName::ScoresInvalid | ErrorName::DatasetInvalid | ErrorName::DeliveryIncomplete
    ) {
        return;
    }
    if let Err(note_err) = ports
        .versions()
        .note_last_job(&form.result_set, job_id, JobStatus::Failed)
        .await
    {
        warn!(error = %note_err, "the result set's entry could not be told the job failed");
    }
}

fn progress(delivery: &Delivery, held: bool) -> DeliveryProgress {
    DeliveryProgress {
        done: true,
        held,
        users: delivery.users,
        skipped: delivery.skipped,
    }
}
