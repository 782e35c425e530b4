//! The first invocation of a delivery: a new version, the first score file to read, the job
//! `DELIVERING`. Later invocations resume the delivery saved on the record.

use recoflow_core::clock::{parse_rfc3339, Clock};
use recoflow_core::delivery::{version_id, Delivery};
use recoflow_core::job::{JobRecord, JobStatus};
use recoflow_core::ports::{JobStore, TransitionExtras};
use tracing::{info, warn};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::ports::DeliverPorts;
use crate::score_files::{first_score_file, scores_prefix};

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
        (JobStatus::Delivering, Some(delivery)) => {
            let mut delivery = delivery.clone();
            delivery.resume_saved_files(&scores_prefix(&record.job_id));
            Ok(Start::Writing(delivery))
        }
        (JobStatus::Scoring | JobStatus::Delivering, _) => Ok(Start::Writing(begin(ports, record).await?)),
        (status, _) => Err(DeliverError::NotDeliverable {
            job_id: record.job_id.clone(),
            status: *status,
        }),
    }
}

async fn begin<P: DeliverPorts>(ports: &P, record: &JobRecord) -> Result<Delivery, DeliverError> {
    let job_id = &record.job_id;
    let prefix = scores_prefix(job_id);
    let first = first_score_file(ports, &prefix).await?;
    let now = ports.clock().unix_now();
    let delivery = Delivery {
        version: version_id(submitted_unix(ports, record), job_id),
        started_at: ports.clock().rfc3339_now(),
        expires_at: now + i64::from(ports.settings().retention_seconds),
        prefix,
        key: Some(first),
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
    info!(version = %delivery.version, "delivery started");
    Ok(delivery)
}

/// When the job was submitted: versions are ordered by it, so a job submitted earlier (on older
/// data) that finishes later never replaces a later job's version.
fn submitted_unix<P: DeliverPorts>(ports: &P, record: &JobRecord) -> i64 {
    match parse_rfc3339(&record.created_at) {
        Some(created) => created.unix_timestamp(),
        None => {
            warn!(created_at = %record.created_at, "the record's creation time does not parse; the version is ordered by now");
            ports.clock().unix_now()
        }
    }
}
