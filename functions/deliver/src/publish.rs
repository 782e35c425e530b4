//! The end of a delivery: the result set's pointer moved to the new version in one transaction
//! that also checks the job is still `DELIVERING` (a job cancelled in the last moments never
//! becomes current: its version stays unreferenced and expires), the delivery's counts on the
//! job record, and the job `SUCCEEDED`.

use std::collections::HashSet;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, Delivery, Pointer};
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{
    JobPatch, JobStore, Published, RecommendationStore, TransitionError, TransitionExtras,
};
use tracing::{info, warn};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::ports::{DeliverPorts, DeliverSettings};

/// Publishes the written version, unless too many score lines were unusable.
pub(crate) async fn publish<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: HashSet<String>,
) -> Result<(), DeliverError> {
    check_skipped_share(ports.settings(), delivery)?;
    let pointer = new_pointer(ports, job_id, form, delivery, banned).await?;
    let detail = match ports.lists().publish(&pointer).await? {
        Published::Switched => switched_detail(delivery, pointer.previous_version.as_deref()),
        Published::Superseded { current } => {
            warn!(current = %current, "a newer version is current; this one is kept but not served");
            format!(
                "version {} written but not made current: version {current}, of a job submitted later, is current",
                delivery.version
            )
        }
        Published::JobNotDelivering { status } => {
            warn!(version = %delivery.version, status = ?status, "the job moved on before its version was made current");
            return Err(DeliverError::NotDeliverable {
                job_id: job_id.clone(),
                status: status.unwrap_or(JobStatus::Failed),
            });
        }
    };
    delivery.published = true;
    save(ports, job_id, delivery).await?;
    record_counts(ports, job_id, delivery).await?;
    close_job(ports, job_id, &detail).await?;
    info!(version = %delivery.version, users = delivery.users, "published");
    Ok(())
}

fn check_skipped_share(settings: &DeliverSettings, delivery: &Delivery) -> Result<(), DeliverError> {
    let lines = delivery.users + delivery.skipped;
    let share = delivery.skipped as f64 / lines.max(1) as f64;
    if delivery.users == 0 || share > settings.max_skipped_share {
        return Err(DeliverError::ScoresInvalid(format!(
            "{} of {lines} score lines were errors or unreadable (at most {:.1} % may be); nothing was published",
            delivery.skipped,
            settings.max_skipped_share * 100.0
        )));
    }
    Ok(())
}

/// The pointer to the new version, naming the version it replaces and the banned items (sorted,
/// as readers show them).
async fn new_pointer<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &Delivery,
    banned: HashSet<String>,
) -> Result<Pointer, DeliverError> {
    let mut excluded_items: Vec<String> = banned.into_iter().collect();
    excluded_items.sort();
    let previous = ports.lists().pointer(&form.result_set).await?.map(|p| p.version);
    Ok(Pointer {
        pk: keys::pointer(&form.result_set),
        result_set: form.result_set.clone(),
        version: delivery.version.clone(),
        job_id: job_id.clone(),
        published_at: ports.clock().rfc3339_now(),
        num_results: form.num_results,
        excluded_items,
        users: delivery.users,
        segments: delivery.segments,
        expires_at: delivery.expires_at,
        previous_version: previous.filter(|p| *p != delivery.version),
    })
}

/// What the job's history says of its version made current.
fn switched_detail(delivery: &Delivery, previous: Option<&str>) -> String {
    format!(
        "version {} published: {} users, {} segments, {} lines skipped (previous version: {})",
        delivery.version,
        delivery.users,
        delivery.segments,
        delivery.skipped,
        previous.unwrap_or("none")
    )
}

async fn record_counts<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    delivery: &Delivery,
) -> Result<(), DeliverError> {
    let counts = [
        ("users_delivered".to_owned(), delivery.users),
        ("lines_skipped".to_owned(), delivery.skipped),
        ("segments_published".to_owned(), delivery.segments),
        (
            "delivery_seconds".to_owned(),
            ports.clock().seconds_since(&delivery.started_at),
        ),
    ]
    .into();
    ports.jobs().patch(job_id, JobPatch::Counts(counts), None).await?;
    Ok(())
}

async fn close_job<P: DeliverPorts>(ports: &P, job_id: &JobId, detail: &str) -> Result<(), DeliverError> {
    match ports
        .jobs()
        .transition(job_id, JobStatus::Succeeded, detail, TransitionExtras::default())
        .await
    {
        Ok(()) => Ok(()),
        // A retried publish after the job was closed: nothing left to do.
        Err(TransitionError::Illegal {
            from: JobStatus::Succeeded,
            ..
        }) => Ok(()),
        Err(err) => Err(err.into()),
    }
}
