//! Deliver (state `Deliver`, job status `DELIVERING`): publishes a job's scores and fallback
//! lists into the recommendations table as a new version of its result set, then moves the
//! result set's pointer to it in one conditional write. The job is `SUCCEEDED` only then.
//!
//! Work is split across invocations: each one writes until its time budget is spent and says
//! whether it is done; the state machine calls it again until it is. Where the delivery stands
//! (version, file, byte offset, counts) is kept on the job record after every stretch of
//! writes, so a retried, timed-out or resumed invocation continues from there; writes are puts
//! of fixed keys, so the stretch written twice after a crash changes nothing.

use std::collections::HashSet;
use std::time::{Duration, Instant};

use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::diagnostic;
use recoflow_core::delivery::{
    keys, parse_score_line, version_id, without_banned, Delivery, Pointer, ScoreLine, StoredList,
    MAX_LIST_ITEMS,
};
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::form::JobForm;
use recoflow_core::job::{now_rfc3339, JobId, JobRecord, JobStatus};
use recoflow_core::popularity::{Popularity, PopularityError};
use recoflow_core::ports::{
    JobPatch, JobStore, ObjectRead, ObjectStore, Published, RecommendationStore, TransitionError,
    TransitionExtras,
};
use recoflow_core::s3uri::S3Uri;
use recoflow_core::task::JobTask;
use serde::Serialize;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;
use tracing::{info, warn, Instrument};

/// Lists written per stretch: several full batches of 25, in flight together.
const CHUNK_LISTS: usize = 200;
/// The job record's cursor is saved at least every this many stretches.
const SAVE_EVERY: u32 = 25;
/// A score line longer than this is not one (Personalize caps numResults at 500).
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Score files read per job (a batch-inference output is one file per input file).
const MAX_SCORE_FILES: usize = 10_000;
/// Banned-items files: at most this many ids (they are stored with the version).
const MAX_EXCLUDED_ITEMS: usize = 10_000;
const MAX_EXCLUDE_FILE_BYTES: u64 = 1024 * 1024;

pub struct DeliverDeps<J, O, R> {
    pub jobs: J,
    pub objects: O,
    pub lists: R,
    pub settings: DeliverSettings,
}

#[derive(Debug, Clone)]
pub struct DeliverSettings {
    pub results_bucket: String,
    /// How long a version's items live (the table's TTL).
    pub retention_seconds: u32,
    /// Writing time per invocation; the rest of the Lambda timeout is margin.
    pub budget: Duration,
    /// Largest share of score lines that may be errors before the delivery is refused.
    pub max_skipped_share: f64,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct DeliveryProgress {
    pub done: bool,
    pub users: u64,
    pub skipped: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum DeliverError {
    #[error("job {0} does not exist or has no valid form")]
    JobNotFound(JobId),
    #[error("job {job_id} is {status}; it has no scores to deliver")]
    NotDeliverable { job_id: JobId, status: JobStatus },
    #[error("{0}")]
    ScoresInvalid(String),
    #[error("{field}: {uri} {reason}")]
    DatasetInvalid {
        field: String,
        uri: String,
        reason: String,
    },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for DeliverError {
    fn error_name(&self) -> ErrorName {
        match self {
            DeliverError::JobNotFound(_) | DeliverError::Transition(TransitionError::NotFound(_)) => {
                ErrorName::JobNotFound
            }
            DeliverError::NotDeliverable { status, .. } if *status == JobStatus::Cancelled => {
                ErrorName::JobCancelled
            }
            DeliverError::NotDeliverable { .. }
            | DeliverError::Transition(TransitionError::Illegal { .. }) => ErrorName::IllegalTransition,
            DeliverError::ScoresInvalid(_) => ErrorName::ScoresInvalid,
            DeliverError::DatasetInvalid { .. } => ErrorName::DatasetInvalid,
            DeliverError::Transition(TransitionError::Service(e)) | DeliverError::Service(e) => {
                e.error_name()
            }
        }
    }
}

impl From<DeliverError> for Diagnostic {
    fn from(err: DeliverError) -> Self {
        diagnostic(err.error_name(), &err)
    }
}

fn unix_now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

pub async fn handle<J, O, R>(
    deps: &DeliverDeps<J, O, R>,
    task: JobTask,
) -> Result<DeliveryProgress, DeliverError>
where
    J: JobStore,
    O: ObjectStore,
    R: RecommendationStore,
{
    let job_id = task.job_id;
    let span = tracing::info_span!("deliver", job_id = %job_id);
    async {
        let started = Instant::now();
        let record = deps
            .jobs
            .get(&job_id)
            .await?
            .ok_or_else(|| DeliverError::JobNotFound(job_id.clone()))?;
        let form = record
            .form
            .clone()
            .ok_or_else(|| DeliverError::JobNotFound(job_id.clone()))?;
        let mut delivery = match (&record.status, &record.delivery) {
            // A retry of an invocation whose answer was lost after it published.
            (JobStatus::Succeeded, Some(delivery)) if delivery.published => {
                return Ok(progress(delivery, true));
            }
            (JobStatus::Delivering, Some(delivery)) => delivery.clone(),
            (JobStatus::Scoring | JobStatus::Delivering, _) => begin(deps, &record).await?,
            (status, _) => {
                return Err(DeliverError::NotDeliverable {
                    job_id: job_id.clone(),
                    status: *status,
                })
            }
        };
        let banned = excluded_items(deps, &form).await?;
        if !delivery.fallbacks_written {
            delivery.segments = write_fallbacks(deps, &form, &delivery, &banned).await?;
            delivery.fallbacks_written = true;
            save(deps, &job_id, &delivery).await?;
        }
        if !delivery.scores_done() {
            write_scores(deps, &job_id, &form, &mut delivery, &banned, started).await?;
            if !delivery.scores_done() {
                info!(
                    users = delivery.users,
                    file = delivery.file,
                    offset = delivery.offset,
                    "time budget spent; continuing in the next invocation"
                );
                return Ok(progress(&delivery, false));
            }
        }
        publish(deps, &record, &form, &mut delivery, banned).await?;
        Ok(progress(&delivery, true))
    }
    .instrument(span)
    .await
}

fn seconds_since(rfc3339: &str) -> u64 {
    time::OffsetDateTime::parse(rfc3339, &time::format_description::well_known::Rfc3339)
        .map(|at| (time::OffsetDateTime::now_utc() - at).whole_seconds().max(0) as u64)
        .unwrap_or(0)
}

fn progress(delivery: &Delivery, done: bool) -> DeliveryProgress {
    DeliveryProgress {
        done,
        users: delivery.users,
        skipped: delivery.skipped,
    }
}

async fn save<J: JobStore, O, R>(
    deps: &DeliverDeps<J, O, R>,
    job_id: &JobId,
    delivery: &Delivery,
) -> Result<(), DeliverError> {
    let written = deps
        .jobs
        .patch(
            job_id,
            JobPatch::Delivery(delivery.clone()),
            Some(&[JobStatus::Delivering]),
        )
        .await?;
    if !written {
        let status = deps
            .jobs
            .get(job_id)
            .await?
            .map(|r| r.status)
            .unwrap_or(JobStatus::Failed);
        return Err(DeliverError::NotDeliverable {
            job_id: job_id.clone(),
            status,
        });
    }
    Ok(())
}

/// The first invocation: a new version, the score files to read, the job DELIVERING.
async fn begin<J, O, R>(deps: &DeliverDeps<J, O, R>, record: &JobRecord) -> Result<Delivery, DeliverError>
where
    J: JobStore,
    O: ObjectStore,
{
    let job_id = &record.job_id;
    let prefix = format!("jobs/{job_id}/scores/");
    let files: Vec<String> = deps
        .objects
        .list(&deps.settings.results_bucket, &prefix, MAX_SCORE_FILES)
        .await?
        .into_iter()
        .filter(|key| key.ends_with(".out"))
        .collect();
    if files.is_empty() {
        return Err(DeliverError::ScoresInvalid(format!(
            "no scores (*.out) under s3://{}/{prefix}: the scoring step wrote nothing",
            deps.settings.results_bucket
        )));
    }
    let now = unix_now();
    let delivery = Delivery {
        version: version_id(now, job_id),
        started_at: now_rfc3339(),
        expires_at: now + i64::from(deps.settings.retention_seconds),
        files,
        ..Delivery::default()
    };
    if record.status != JobStatus::Delivering {
        let detail = format!("publishing version {}", delivery.version);
        deps.jobs
            .transition(
                job_id,
                JobStatus::Delivering,
                &detail,
                TransitionExtras::default(),
            )
            .await?;
    }
    save(deps, job_id, &delivery).await?;
    info!(version = %delivery.version, files = delivery.files.len(), "delivery started");
    Ok(delivery)
}

/// The form's banned items (`exclude_items`: one id per line, or the first column of a CSV).
async fn excluded_items<J, O: ObjectStore, R>(
    deps: &DeliverDeps<J, O, R>,
    form: &JobForm,
) -> Result<HashSet<String>, DeliverError> {
    let Some(uri) = &form.exclude_items else {
        return Ok(HashSet::new());
    };
    let invalid = |reason: String| DeliverError::DatasetInvalid {
        field: "exclude_items".into(),
        uri: uri.clone(),
        reason,
    };
    let location = S3Uri::parse(uri).map_err(invalid)?;
    let body = match deps
        .objects
        .read_limited(&location.bucket, &location.key, None, MAX_EXCLUDE_FILE_BYTES)
        .await?
    {
        ObjectRead::Body(body) => body,
        ObjectRead::TooLarge { size } => {
            return Err(invalid(format!(
                "is {size} bytes; at most {MAX_EXCLUDE_FILE_BYTES} are read"
            )))
        }
        ObjectRead::Missing => return Err(invalid("does not exist".into())),
    };
    let text = String::from_utf8(body).map_err(|_| invalid("is not UTF-8 text".into()))?;
    let items: HashSet<String> = text
        .lines()
        .filter_map(|line| line.split(',').next())
        .map(|id| id.trim().trim_matches('"').trim_start_matches('\u{feff}'))
        .filter(|id| !id.is_empty() && !id.eq_ignore_ascii_case("ITEM_ID"))
        .map(str::to_owned)
        .collect();
    if items.len() > MAX_EXCLUDED_ITEMS {
        return Err(invalid(format!(
            "lists {} items; at most {MAX_EXCLUDED_ITEMS} are allowed",
            items.len()
        )));
    }
    Ok(items)
}

fn list(pk: String, items: Vec<String>, scores: Vec<f64>, expires_at: i64) -> StoredList {
    StoredList {
        pk,
        items,
        scores,
        segment: None,
        expires_at,
    }
}

/// The global and per-segment popular lists, and each user's segment, from the job's data.
async fn write_fallbacks<J, O, R>(
    deps: &DeliverDeps<J, O, R>,
    form: &JobForm,
    delivery: &Delivery,
    banned: &HashSet<String>,
) -> Result<u64, DeliverError>
where
    O: ObjectStore,
    R: RecommendationStore,
{
    let result_set = form.result_set.clone();
    let version = delivery.version.clone();
    let expires_at = delivery.expires_at;
    let open = |field: &'static str, uri: String| async move {
        let invalid = |reason: String| DeliverError::DatasetInvalid {
            field: field.to_owned(),
            uri: uri.clone(),
            reason,
        };
        let location = S3Uri::parse(&uri).map_err(invalid)?;
        deps.objects
            .open(&location.bucket, &location.key, 0)
            .await?
            .map(SyncIoBridge::new)
            .ok_or_else(|| invalid("no longer exists".into()))
    };
    let users = match &form.dataset.users {
        Some(uri) => Some(open("dataset.users", uri.clone()).await?),
        None => None,
    };
    let interactions = open("dataset.interactions", form.dataset.interactions.clone()).await?;

    // Counting is synchronous CSV reading on a blocking thread; users' segments stream out to
    // be written while it reads.
    let (segments_out, mut segments_in) = mpsc::channel::<Vec<StoredList>>(4);
    let (rs, v) = (result_set.clone(), version.clone());
    let counting =
        tokio::task::spawn_blocking(move || -> Result<Popularity, (&'static str, PopularityError)> {
            let mut popularity = Popularity::default();
            if let Some(users) = users {
                let mut chunk = Vec::with_capacity(CHUNK_LISTS);
                popularity
                    .read_users(users, |user_id, attributes| {
                        chunk.push(StoredList {
                            segment: attributes.segment_key(),
                            ..list(
                                keys::attributes(&rs, &v, user_id),
                                Vec::new(),
                                Vec::new(),
                                expires_at,
                            )
                        });
                        if chunk.len() >= CHUNK_LISTS {
                            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LISTS));
                            segments_out
                                .blocking_send(full)
                                .map_err(|_| "the writer stopped".to_owned())?;
                        }
                        Ok(())
                    })
                    .map_err(|e| ("dataset.users", e))?;
                if !chunk.is_empty() {
                    segments_out.blocking_send(chunk).map_err(|_| {
                        (
                            "dataset.users",
                            PopularityError::Output("the writer stopped".into()),
                        )
                    })?;
                }
            }
            drop(segments_out);
            popularity
                .read_interactions(interactions)
                .map_err(|e| ("dataset.interactions", e))?;
            Ok(popularity)
        });
    let mut write_error = None;
    while let Some(chunk) = segments_in.recv().await {
        if let Err(err) = deps.lists.put_lists(chunk).await {
            write_error = Some(err);
            break;
        }
    }
    drop(segments_in);
    let counted = counting
        .await
        .map_err(|e| DeliverError::ScoresInvalid(format!("counting popular items stopped: {e}")))?;
    if let Some(err) = write_error {
        return Err(err.into());
    }
    let popularity = counted.map_err(|(field, err)| DeliverError::DatasetInvalid {
        field: field.to_owned(),
        uri: match field {
            "dataset.users" => form.dataset.users.clone().unwrap_or_default(),
            _ => form.dataset.interactions.clone(),
        },
        reason: err.to_string(),
    })?;
    let lists: Vec<StoredList> = popularity
        .lists(banned)
        .into_iter()
        .map(|popular| {
            let pk = match &popular.segment {
                Some(segment) => keys::segment(&result_set, &version, segment),
                None => keys::global(&result_set, &version),
            };
            list(pk, popular.items, popular.scores, expires_at)
        })
        .collect();
    let segments = lists.len() as u64 - 1;
    for chunk in lists.chunks(CHUNK_LISTS) {
        deps.lists.put_lists(chunk.to_vec()).await?;
    }
    info!(
        segments,
        interactions = popularity.interactions,
        "fallback lists written"
    );
    Ok(segments)
}

/// Lines read for one stretch of writes.
#[derive(Default)]
struct Stretch {
    lists: Vec<StoredList>,
    bytes: u64,
    users: u64,
    skipped: u64,
    end_of_file: bool,
}

async fn read_stretch<S: tokio::io::AsyncBufRead + Unpin>(
    reader: &mut S,
    form: &JobForm,
    version: &str,
    expires_at: i64,
    banned: &HashSet<String>,
) -> Result<Stretch, ServiceError> {
    let mut stretch = Stretch::default();
    let mut line = Vec::with_capacity(4096);
    while stretch.lists.len() < CHUNK_LISTS {
        line.clear();
        let read = reader
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| ServiceError::Failed {
                service: "S3",
                operation: "GetObject body",
                message: e.to_string(),
            })?;
        if read == 0 {
            stretch.end_of_file = true;
            break;
        }
        stretch.bytes += read as u64;
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        if line.len() > MAX_LINE_BYTES {
            stretch.skipped += 1;
            continue;
        }
        match parse_score_line(&line) {
            ScoreLine::Scored {
                user_id,
                mut items,
                mut scores,
            } => {
                without_banned(&mut items, &mut scores, banned);
                items.truncate(MAX_LIST_ITEMS);
                scores.truncate(MAX_LIST_ITEMS);
                stretch.lists.push(list(
                    keys::user(&form.result_set, version, &user_id),
                    items,
                    scores,
                    expires_at,
                ));
                stretch.users += 1;
            }
            ScoreLine::Skipped(_) => stretch.skipped += 1,
        }
    }
    Ok(stretch)
}

/// Streams the score files from the saved cursor, writing each stretch while reading the next,
/// until done or the time budget is spent.
async fn write_scores<J, O, R>(
    deps: &DeliverDeps<J, O, R>,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
    started: Instant,
) -> Result<(), DeliverError>
where
    J: JobStore,
    O: ObjectStore,
    R: RecommendationStore,
{
    let bucket = deps.settings.results_bucket.clone();
    let mut since_save = 0;
    while !delivery.scores_done() {
        let key = delivery.files[delivery.file].clone();
        let stream = deps
            .objects
            .open(&bucket, &key, delivery.offset)
            .await?
            .ok_or_else(|| {
                DeliverError::ScoresInvalid(format!("s3://{bucket}/{key} disappeared during delivery"))
            })?;
        let mut reader = BufReader::with_capacity(256 * 1024, stream);
        let (version, expires_at) = (delivery.version.clone(), delivery.expires_at);
        let mut stretch = read_stretch(&mut reader, form, &version, expires_at, banned).await?;
        loop {
            let end_of_file = stretch.end_of_file;
            let lists = std::mem::take(&mut stretch.lists);
            // Write this stretch while the next is read.
            let (written, next) = if end_of_file {
                (deps.lists.put_lists(lists).await, Ok(Stretch::default()))
            } else {
                tokio::join!(
                    deps.lists.put_lists(lists),
                    read_stretch(&mut reader, form, &version, expires_at, banned)
                )
            };
            written?;
            delivery.offset += stretch.bytes;
            delivery.users += stretch.users;
            delivery.skipped += stretch.skipped;
            if end_of_file {
                delivery.file += 1;
                delivery.offset = 0;
            }
            since_save += 1;
            let out_of_time = started.elapsed() >= deps.settings.budget;
            if end_of_file || out_of_time || since_save >= SAVE_EVERY {
                save(deps, job_id, delivery).await?;
                since_save = 0;
            }
            if out_of_time {
                return Ok(());
            }
            if end_of_file {
                break;
            }
            stretch = next?;
        }
    }
    Ok(())
}

/// Moves the result set's pointer to the new version and closes the job.
async fn publish<J, O, R>(
    deps: &DeliverDeps<J, O, R>,
    record: &JobRecord,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: HashSet<String>,
) -> Result<(), DeliverError>
where
    J: JobStore,
    R: RecommendationStore,
{
    let job_id = &record.job_id;
    let lines = delivery.users + delivery.skipped;
    let share = delivery.skipped as f64 / lines.max(1) as f64;
    if delivery.users == 0 || share > deps.settings.max_skipped_share {
        return Err(DeliverError::ScoresInvalid(format!(
            "{} of {lines} score lines were errors or unreadable (at most {:.1} % may be); nothing was published",
            delivery.skipped,
            deps.settings.max_skipped_share * 100.0
        )));
    }
    let mut excluded_items: Vec<String> = banned.into_iter().collect();
    excluded_items.sort();
    let previous = deps.lists.pointer(&form.result_set).await?.map(|p| p.version);
    let pointer = Pointer {
        pk: keys::pointer(&form.result_set),
        result_set: form.result_set.clone(),
        version: delivery.version.clone(),
        job_id: job_id.clone(),
        published_at: now_rfc3339(),
        num_results: form.num_results,
        excluded_items,
        users: delivery.users,
        segments: delivery.segments,
        expires_at: delivery.expires_at,
        previous_version: previous.filter(|p| *p != delivery.version),
    };
    let detail = match deps.lists.publish(&pointer).await? {
        Published::Switched { previous } => format!(
            "version {} published: {} users, {} segments, {} lines skipped (previous version: {})",
            delivery.version,
            delivery.users,
            delivery.segments,
            delivery.skipped,
            previous.as_deref().unwrap_or("none")
        ),
        Published::Superseded { current } => {
            warn!(current = %current, "a newer version is current; this one is kept but not served");
            format!(
                "version {} written but not made current: newer version {current} was published first",
                delivery.version
            )
        }
    };
    delivery.published = true;
    save(deps, job_id, delivery).await?;
    let counts = [
        ("users_delivered".to_owned(), delivery.users),
        ("lines_skipped".to_owned(), delivery.skipped),
        ("segments_published".to_owned(), delivery.segments),
        ("delivery_seconds".to_owned(), seconds_since(&delivery.started_at)),
    ]
    .into();
    deps.jobs.patch(job_id, JobPatch::Counts(counts), None).await?;
    match deps
        .jobs
        .transition(job_id, JobStatus::Succeeded, &detail, TransitionExtras::default())
        .await
    {
        Ok(()) => {}
        // A retried publish after the job was closed: nothing left to do.
        Err(TransitionError::Illegal {
            from: JobStatus::Succeeded,
            ..
        }) => {}
        Err(err) => return Err(err.into()),
    }
    info!(version = %delivery.version, users = delivery.users, "published");
    Ok(())
}
