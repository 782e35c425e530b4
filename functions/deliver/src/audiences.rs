//! An audience version (`recoflow_core::outputs::audience`): the backend's batch segment lines
//! (under the job's `scores/`) read as a stream, only the segment's users kept (Prepare's
//! scoring input, their column values from the users file), each audience cut to the form's
//! size or minimum score and written as a ranked CSV, then the version's manifest, last. The
//! pointer moves afterwards (`publish`), so no reader sees half an audience.
//!
//! One invocation writes them all: a retried one writes the same keys again.

use std::io::BufReader;
use std::sync::Arc;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Delivery;
use recoflow_core::form::{AudienceCut, JobForm};
use recoflow_core::job::JobRecord;
use recoflow_core::outputs::audience::{
    breakdown, csv_header, csv_key, csv_row, manifest_key, read_lines, AudienceEntry, AudienceManifest,
    AudienceMetrics, AudiencePlan, Candidates, Collecting, Member, Target,
};
use recoflow_core::ports::ObjectStore;
use recoflow_core::s3uri::S3Uri;
use recoflow_core::scoring_parts::MAX_SCORING_PARTS;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;
use tracing::{info, warn};

use crate::cursor::save;
use crate::data_files::DataFile;
use crate::error::DeliverError;
use crate::measure::store_audience_metrics;
use crate::ports::DeliverPorts;
use crate::score_files::some_score_files;

/// A CSV leaves in parts of about this size (multipart parts gather them).
const CSV_CHUNK_BYTES: usize = 1024 * 1024;
/// Read buffer per score file.
const READ_BUFFER_BYTES: usize = 256 * 1024;

/// Writes every audience of the version and its manifest; the cursor then says the scores are
/// done, with the users written, the audiences (`segments`) and the unreadable lines.
pub(crate) async fn write_audiences<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &mut Delivery,
) -> Result<(), DeliverError> {
    let plan = AudiencePlan::of(form).ok_or_else(|| {
        DeliverError::ScoresInvalid("the form makes an audience but has no audience block".into())
    })?;
    let candidates = Arc::new(read_candidates(ports, record, form, &plan).await?);
    let (audiences, unreadable, files) = read_scores(ports, delivery, &plan, candidates.clone()).await?;
    let mut metrics = AudienceMetrics::default();
    let mut entries = Vec::with_capacity(audiences.len());
    for (ordinal, (target, (members, error))) in plan.targets.iter().zip(audiences).enumerate() {
        let csv = csv_key(&form.result_set, &delivery.version, ordinal);
        put_csv(ports, &csv, &members, &candidates).await?;
        metrics.add(&members, plan.cut);
        if let Some(error) = &error {
            warn!(audience = ordinal, error = %error, "the backend ranked nobody for this audience");
        }
        entries.push(AudienceEntry {
            item: match target {
                Target::Item(item) => Some(item.clone()),
                Target::Filter(_) => None,
            },
            item_filter: match target {
                Target::Filter(filter) => Some(filter.clone()),
                Target::Item(_) => None,
            },
            csv,
            size: members.len() as u64,
            breakdown: breakdown(&members, &candidates),
            error,
        });
    }
    store_audience_metrics(ports, &record.job_id, &metrics.finish()).await?;
    let manifest = AudienceManifest {
        result_set: form.result_set.clone(),
        version: delivery.version.clone(),
        job_id: record.job_id.clone(),
        created_at: ports.clock().rfc3339_now(),
        columns: candidates.columns().to_vec(),
        size: plan.size_limit().map(|s| s as u32),
        min_score: match plan.cut {
            AudienceCut::MinScore(min) => Some(min),
            AudienceCut::Size(_) => None,
        },
        audiences: entries,
    };
    put_manifest(ports, &manifest).await?;
    info!(
        audiences = manifest.audiences.len(),
        users = manifest.users(),
        unreadable,
        "audiences written"
    );
    delivery.users = manifest.users();
    delivery.segments = manifest.audiences.len() as u64;
    delivery.skipped = unreadable;
    delivery.files_read = files;
    delivery.fallbacks_written = true;
    save(ports, &record.job_id, delivery).await
}

/// The segment's users (Prepare's scoring input) with their values of the segment's columns.
async fn read_candidates<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    plan: &AudiencePlan,
) -> Result<Candidates, DeliverError> {
    let input = record
        .prepared
        .as_ref()
        .map(|p| p.scoring_input.clone())
        .ok_or_else(|| {
            DeliverError::ScoresInvalid("the job has no scoring input to take the segment from".into())
        })?;
    let unusable =
        |reason: String| DeliverError::ScoresInvalid(format!("the segment's users ({input}) {reason}"));
    // Prepare's parts, under the prefix.
    let location = S3Uri::parse_folder(&input).map_err(unusable)?;
    let parts = ports
        .objects()
        .list(&location.bucket, &location.key, MAX_SCORING_PARTS as usize)
        .await?;
    if parts.is_empty() {
        return Err(unusable("no longer exist".into()));
    }
    let stopped = |e: tokio::task::JoinError| {
        DeliverError::ScoresInvalid(format!("reading the segment's users stopped: {e}"))
    };
    let mut candidates = Candidates::new(plan.columns.clone());
    for key in parts {
        let members = ports
            .objects()
            .open(&location.bucket, &key, 0)
            .await?
            .ok_or_else(|| unusable(format!("lost {key}")))?;
        candidates = tokio::task::spawn_blocking(move || {
            candidates.read_members(BufReader::new(SyncIoBridge::new(members)))?;
            Ok::<_, String>(candidates)
        })
        .await
        .map_err(stopped)?
        .map_err(|e| unusable(format!("{key}: {e}")))?;
    }
    let users = match plan.columns.is_empty() {
        true => None,
        false => DataFile::Users.open(ports, form).await?,
    };
    let Some(users) = users else {
        return Ok(candidates);
    };
    tokio::task::spawn_blocking(move || candidates.read_profiles(users).map(|()| candidates))
        .await
        .map_err(stopped)?
        .map_err(|reason| DataFile::Users.invalid(form, reason))
}

/// Every score file's lines, each audience's users collected; the unreadable lines and the
/// files read.
async fn read_scores<P: DeliverPorts>(
    ports: &P,
    delivery: &Delivery,
    plan: &AudiencePlan,
    candidates: Arc<Candidates>,
) -> Result<(Vec<(Vec<Member>, Option<String>)>, u64, u64), DeliverError> {
    let bucket = ports.settings().results_bucket.clone();
    let mut collecting: Vec<Collecting> = plan.targets.iter().map(|_| Collecting::new(plan.cut)).collect();
    let (mut unreadable, mut files) = (0, 0);
    for key in some_score_files(ports, &delivery.prefix).await? {
        let stream = ports.objects().open(&bucket, &key, 0).await?.ok_or_else(|| {
            DeliverError::ScoresInvalid(format!("s3://{bucket}/{key} disappeared during delivery"))
        })?;
        let (plan, candidates) = (plan.clone(), candidates.clone());
        // The batch lines are read synchronously (a streaming JSON reader) on a blocking thread.
        let (read, returned) = tokio::task::spawn_blocking(move || {
            let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, SyncIoBridge::new(stream));
            let read = read_lines(&mut reader, &plan, &candidates, &mut collecting);
            (read, collecting)
        })
        .await
        .map_err(|e| DeliverError::ScoresInvalid(format!("reading s3://{bucket}/{key} stopped: {e}")))?;
        collecting = returned;
        unreadable += read.map_err(|e| {
            DeliverError::ScoresInvalid(format!("s3://{bucket}/{key} could not be read: {e}"))
        })?;
        files += 1;
    }
    Ok((
        collecting.into_iter().map(Collecting::finish).collect(),
        unreadable,
        files,
    ))
}

/// Writes an audience's CSV, in parts as it is made.
async fn put_csv<P: DeliverPorts>(
    ports: &P,
    key: &str,
    members: &[Member],
    candidates: &Candidates,
) -> Result<(), DeliverError> {
    let (parts, received) = mpsc::channel::<Vec<u8>>(2);
    let bucket = &ports.settings().results_bucket;
    let upload = ports
        .objects()
        .put_chunks(bucket, key, "text/csv; charset=utf-8", received);
    let make = async move {
        let mut part = csv_header(candidates.columns());
        for member in members {
            csv_row(member, candidates, &mut part);
            if part.len() >= CSV_CHUNK_BYTES {
                let full = std::mem::replace(&mut part, Vec::with_capacity(CSV_CHUNK_BYTES + 1024));
                if parts.send(full).await.is_err() {
                    return;
                }
            }
        }
        let _ = parts.send(part).await;
    };
    let (uploaded, ()) = tokio::join!(upload, make);
    uploaded?;
    Ok(())
}

async fn put_manifest<P: DeliverPorts>(ports: &P, manifest: &AudienceManifest) -> Result<(), DeliverError> {
    let body = serde_json::to_vec(manifest)
        .map_err(|e| DeliverError::ScoresInvalid(format!("the audiences' manifest does not encode: {e}")))?;
    let key = manifest_key(&manifest.result_set, &manifest.version);
    ports
        .objects()
        .put(&ports.settings().results_bucket, &key, body, "application/json")
        .await?;
    Ok(())
}
