//! The first invocation of a delivery: a new version, the score files to read, the job
//! `DELIVERING`. Later invocations resume the delivery saved on the record.

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{version_id, Delivery};
use recoflow_core::job::{JobRecord, JobStatus};
use recoflow_core::ports::{JobStore, ObjectStore, TransitionExtras};
use tracing::info;

use crate::cursor::save;
use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// Score files read per job (a batch-inference output is one file per input file).
const MAX_SCORE_FILES: usize = 10_000;

/// Where this invocation starts.
pub(crate) enum Start {
    /// A retry of an invocation whose answer was lost after it published.
    AlreadyPublished(Delivery),
    /// Writing goes on from this cursor.
    Writing(Delivery),
}

/// Resumes the delivery on the record, or begins one for a job that finished scoring.
pub(crate) async fn begin_or_resume<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
) -> Result<Start, DeliverError> {
    match (&record.status, &record.delivery) {
        (JobStatus::Succeeded, Some(delivery)) if delivery.published => {
            Ok(Start::AlreadyPublished(delivery.clone()))
        }
        (JobStatus::Delivering, Some(delivery)) => Ok(Start::Writing(delivery.clone())),
        (JobStatus::Scoring | JobStatus::Delivering, _) => Ok(Start::Writing(begin(ports, record).await?)),
        (status, _) => Err(DeliverError::NotDeliverable {
            job_id: record.job_id.clone(),
            status: *status,
        }),
    }
}

async fn begin<P: DeliverPorts>(ports: &P, record: &JobRecord) -> Result<Delivery, DeliverError> {
    let job_id = &record.job_id;
    let files = score_files(ports, record).await?;
    let now = ports.clock().unix_now();
    let delivery = Delivery {
        version: version_id(now, job_id),
        started_at: ports.clock().rfc3339_now(),
        expires_at: now + i64::from(ports.settings().retention_seconds),
        files,
        ..Delivery::default()
    };
    if record.status != JobStatus::Delivering {
        let detail = format!("publishing version {}", delivery.version);
        ports
            .jobs()
            .transition(
                job_id,
                JobStatus::Delivering,
                &detail,
                TransitionExtras::default(),
            )
            .await?;
    }
    save(ports, job_id, &delivery).await?;
    info!(version = %delivery.version, files = delivery.files.len(), "delivery started");
    Ok(delivery)
}

/// The scoring step's output files (`*.out` under the job's `scores/`), in listing order.
async fn score_files<P: DeliverPorts>(ports: &P, record: &JobRecord) -> Result<Vec<String>, DeliverError> {
    let bucket = &ports.settings().results_bucket;
    let prefix = format!("jobs/{}/scores/", record.job_id);
    let files: Vec<String> = ports
        .objects()
        .list(bucket, &prefix, MAX_SCORE_FILES)
        .await?
        .into_iter()
        .filter(|key| key.ends_with(".out"))
        .collect();
    if files.is_empty() {
        return Err(DeliverError::ScoresInvalid(format!(
            "no scores (*.out) under s3://{bucket}/{prefix}: the scoring step wrote nothing"
        )));
    }
    Ok(files)
}
