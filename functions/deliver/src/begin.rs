//! The start of a delivery: a new version (its record, the result set's entry), the version it
//! is measured against, the job `DELIVERING`. Every later step (a retried begin, each score
//! file's worker, the publish) finds the delivery saved on the record.

use recoflow_core::clock::{parse_rfc3339, Clock};
use recoflow_core::delivery::{version_id, Delivery};
use recoflow_core::form::{JobForm, Output};
use recoflow_core::job::{JobRecord, JobStatus, USERS_FILE_ROWS};
use recoflow_core::ports::{JobStore, RecommendationStore, TransitionExtras};
use tracing::{info, warn};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::fallbacks::shares_for;
use crate::ports::DeliverPorts;
use crate::records::note_version_started;
use crate::score_files::{scores_prefix, some_score_files};

/// Fallback shares at most: one Map iteration each in the execution's history.
const MAX_FALLBACK_SHARES: u32 = 1000;

/// Where this invocation starts.
pub(crate) enum Start {
    /// A retry of a step whose answer was lost after the version was published, or after the
    /// quality gate held it (`held`).
    Finished { delivery: Delivery, held: bool },
    /// Writing goes on with this delivery.
    Writing(Delivery),
}

/// The delivery saved on the record; `None` for a job that finished scoring and has none yet.
pub(crate) fn saved(record: &JobRecord) -> Result<Option<Start>, DeliverError> {
    match (&record.status, &record.delivery) {
        (JobStatus::Succeeded, Some(delivery)) if delivery.published => Ok(Some(Start::Finished {
            delivery: delivery.clone(),
            held: false,
        })),
        (JobStatus::Held, Some(delivery)) => Ok(Some(Start::Finished {
            delivery: delivery.clone(),
            held: true,
        })),
        (JobStatus::Delivering, Some(delivery)) => Ok(Some(Start::Writing(delivery.clone()))),
        (JobStatus::Scoring | JobStatus::Delivering, None) => Ok(None),
        (status, _) => Err(DeliverError::NotDeliverable {
            job_id: record.job_id.clone(),
            status: *status,
        }),
    }
}

/// Resumes the delivery on the record, or begins one for a job that finished scoring.
pub(crate) async fn begin_or_resume<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<Start, DeliverError> {
    match saved(record)? {
        Some(start) => Ok(start),
        None => Ok(Start::Writing(begin(ports, record, form).await?)),
    }
}

async fn begin<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<Delivery, DeliverError> {
    let job_id = &record.job_id;
    let prefix = scores_prefix(job_id);
    let files = some_score_files(ports, &prefix).await?.len();
    let now = ports.clock().unix_now();
    let delivery = Delivery {
        version: version_id(submitted_unix(ports, record), job_id),
        started_at: ports.clock().rfc3339_now(),
        expires_at: now + i64::from(ports.settings().retention_seconds),
        prefix,
        score_files_listed: files as u64,
        fallback_shares: match form.output {
            Output::UserItems => shares_for(
                users_file_rows(record),
                ports.settings().fallback_share_users,
                MAX_FALLBACK_SHARES,
            ),
            Output::SimilarItems | Output::Audience => 0,
        },
        previous_version: current_version(ports, form).await?,
        ..Delivery::default()
    };
    if record.status != JobStatus::Delivering {
        let detail = format!("publishing version {} from {files} score files", delivery.version);
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
    note_version_started(ports, record, form, &delivery).await?;
    save(ports, job_id, &delivery).await?;
    info!(version = %delivery.version, previous = ?delivery.previous_version, files, "delivery started");
    Ok(delivery)
}

/// The version the result set's pointer names now.
async fn current_version<P: DeliverPorts>(ports: &P, form: &JobForm) -> Result<Option<String>, DeliverError> {
    Ok(ports
        .lists()
        .pointer(&form.result_set)
        .await?
        .map(|pointer| pointer.version))
}

/// Rows of the job's users file, as Prepare counted them (0 without one: one share).
fn users_file_rows(record: &JobRecord) -> u64 {
    record.counts.get(USERS_FILE_ROWS).copied().unwrap_or(0)
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
