//! The first invocation of a delivery: a new version (its record, the result set's entry), the
//! first score file to read, the version it is measured against, the job `DELIVERING`. Later
//! invocations resume the delivery saved on the record.

use recoflow_core::clock::{parse_rfc3339, Clock};
use recoflow_core::delivery::{version_id, Delivery};
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobRecord, JobStatus};
use recoflow_core::ports::{JobStore, RecommendationStore, TransitionExtras};
use tracing::{info, warn};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::ports::DeliverPorts;
use crate::records::note_version_started;
use crate::score_files::{first_score_file, scores_prefix};

/// Where this invocation starts.
pub(crate) enum Start {
    /// A retry of an invocation whose answer was lost after it published the version, or
    /// after the quality gate held it (`held`).
    Finished { delivery: Delivery, held: bool },
    /// Writing goes on from this cursor.
    Writing(Delivery),
}

/// Resumes the delivery on the record, or begins one for a job that finished scoring.
pub(crate) async fn begin_or_resume<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<Start, DeliverError> {
    match (&record.status, &record.delivery) {
        (JobStatus::Succeeded, Some(delivery)) if delivery.published => Ok(Start::Finished {
            delivery: delivery.clone(),
            held: false,
        }),
        (JobStatus::Held, Some(delivery)) => Ok(Start::Finished {
            delivery: delivery.clone(),
            held: true,
        }),
        (JobStatus::Delivering, Some(delivery)) => {
            let mut delivery = delivery.clone();
            delivery.resume_saved_files(&scores_prefix(&record.job_id));
            if !delivery.measured {
                adopt_unmeasured(ports, record, form, &mut delivery).await?;
            }
            Ok(Start::Writing(delivery))
        }
        (JobStatus::Scoring | JobStatus::Delivering, _) => {
            Ok(Start::Writing(begin(ports, record, form).await?))
        }
        (status, _) => Err(DeliverError::NotDeliverable {
            job_id: record.job_id.clone(),
            status: *status,
        }),
    }
}

async fn begin<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
) -> Result<Delivery, DeliverError> {
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
        measured: true,
        previous_version: current_version(ports, form).await?,
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
    note_version_started(ports, record, form, &delivery).await?;
    save(ports, job_id, &delivery).await?;
    info!(version = %delivery.version, previous = ?delivery.previous_version, "delivery started");
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

/// A delivery begun before deliveries were measured goes on measured: its version gets a
/// record, it is measured against the version current now, and its fallbacks are written again
/// to be counted (puts of the same keys). The score files it wrote are measured next
/// (`scores::measure_written_files`), which marks the cursor measured.
async fn adopt_unmeasured<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &mut Delivery,
) -> Result<(), DeliverError> {
    delivery.previous_version = current_version(ports, form)
        .await?
        .filter(|current| *current != delivery.version);
    delivery.fallbacks_written = false;
    note_version_started(ports, record, form, delivery).await?;
    save(ports, &record.job_id, delivery).await?;
    info!(version = %delivery.version, "a delivery begun before versions were measured is measured from here");
    Ok(())
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
