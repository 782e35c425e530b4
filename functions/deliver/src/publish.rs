//! The end of a delivery: the written version is judged by the quality gate (`judge.rs`), its
//! verdict kept on the job record and the version's record, then:
//! - passed: the result set's pointer moves to the new version in one transaction that also
//!   checks the job is still `DELIVERING` (a job cancelled in the last moments never becomes
//!   current: its version stays unreferenced and expires); the job is `SUCCEEDED`;
//! - failed, `on_fail: hold`: the version is held, written and not published, and the job is
//!   `HELD`; the current version keeps serving until someone promotes the held one;
//! - failed, `on_fail: fail`: `QualityGateFailed` (the failure path makes the job `FAILED`); the
//!   version is written, never published.

use std::collections::HashSet;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, Delivery, Pointer, SegmentDimensions};
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobId, JobRecord, JobStatus};
use recoflow_core::ports::{
    JobPatch, JobStore, Published, RecommendationStore, TransitionError, TransitionExtras, VersionStore,
};
use recoflow_core::quality::{MetricsPartial, OnFail};
use tracing::{info, warn};

use crate::cursor::{patch_while_delivering, save};
use crate::error::{describe_failures, DeliverError};
use crate::judge::{judge, Verdict};
use crate::ports::{DeliverPorts, DeliverSettings};
use crate::records::update_version;

/// What became of the version.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Outcome {
    /// Made current (or kept, not current, behind a newer version).
    Published,
    /// Held back by the quality gate.
    Held,
}

/// Publishes the written version if it passes the gate, unless too many score lines were
/// unusable. `merged`: every score file's metrics.
pub(crate) async fn publish<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: HashSet<String>,
    merged: MetricsPartial,
) -> Result<Outcome, DeliverError> {
    let job_id = &record.job_id;
    check_skipped_share(ports.settings(), delivery)?;
    let current = ports.lists().pointer(&form.result_set).await?;
    let verdict = judge(ports, job_id, form, delivery, current.as_ref(), merged).await?;
    patch_while_delivering(ports, job_id, JobPatch::Gate(verdict.outcome.clone())).await?;
    if verdict.outcome.passed {
        let pointer = new_pointer(ports, job_id, form, delivery, banned, current);
        let written_at = ports.clock().rfc3339_now();
        make_current(ports, record, form, delivery, &pointer, verdict, written_at).await?;
        return Ok(Outcome::Published);
    }
    hold_back(ports, record, form, delivery, verdict, current, sorted(banned)).await
}

/// A version that failed the gate: its record keeps the metrics and the verdict (held, for
/// `on_fail: hold`), and the job is `HELD` or fails with `QualityGateFailed`.
async fn hold_back<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &Delivery,
    verdict: Verdict,
    current: Option<Pointer>,
    excluded_items: Vec<String>,
) -> Result<Outcome, DeliverError> {
    let written_at = ports.clock().rfc3339_now();
    let job_id = &record.job_id;
    let failures = describe_failures(&verdict.outcome.failures);
    let on_fail = verdict.outcome.on_fail;
    update_version(ports, record, form, delivery, |version| {
        version.excluded_items = excluded_items;
        version.held = on_fail == OnFail::Hold;
        version.metrics = Some(verdict.metrics);
        version.gate = Some(verdict.outcome);
        version.written_at.get_or_insert(written_at);
    })
    .await?;
    if on_fail == OnFail::Fail {
        warn!(version = %delivery.version, failures = %failures, "failed the quality gate");
        ports
            .versions()
            .note_last_job(&form.result_set, job_id, JobStatus::Failed)
            .await?;
        return Err(DeliverError::QualityGateFailed {
            version: delivery.version.clone(),
            failures,
        });
    }
    warn!(version = %delivery.version, failures = %failures, "held by the quality gate");
    let serving = current.map_or_else(|| "no version".to_owned(), |p| format!("version {}", p.version));
    let detail = format!(
        "version {} held by the quality gate: {failures}; {serving} keeps serving",
        delivery.version
    );
    record_counts(ports, job_id, delivery).await?;
    close_job(ports, job_id, JobStatus::Held, &detail).await?;
    ports
        .versions()
        .note_last_job(&form.result_set, job_id, JobStatus::Held)
        .await?;
    Ok(Outcome::Held)
}

/// The transactional pointer write, then the version's record, the counts, the job
/// `SUCCEEDED`.
async fn make_current<P: DeliverPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    delivery: &mut Delivery,
    pointer: &Pointer,
    verdict: Verdict,
    written_at: String,
) -> Result<(), DeliverError> {
    let job_id = &record.job_id;
    let (detail, switched) = match ports.lists().publish(pointer).await? {
        Published::Switched => (
            switched_detail(delivery, pointer.previous_version.as_deref()),
            true,
        ),
        Published::Superseded { current } => {
            warn!(current = %current, "a newer version is current; this one is kept but not served");
            let detail = format!(
                "version {} written but not made current: version {current}, of a job submitted later, is current",
                delivery.version
            );
            (detail, false)
        }
        Published::JobNotDelivering { status } => {
            warn!(version = %delivery.version, status = ?status, "the job moved on before its version was made current");
            return Err(DeliverError::NotDeliverable {
                job_id: job_id.clone(),
                status: status.unwrap_or(JobStatus::Failed),
            });
        }
    };
    update_version(ports, record, form, delivery, |version| {
        version.excluded_items = pointer.excluded_items.clone();
        version.metrics = Some(verdict.metrics);
        version.gate = Some(verdict.outcome);
        version.written_at.get_or_insert(written_at);
        if switched {
            version
                .published_at
                .get_or_insert_with(|| pointer.published_at.clone());
        }
    })
    .await?;
    delivery.published = true;
    save(ports, job_id, delivery).await?;
    record_counts(ports, job_id, delivery).await?;
    close_job(ports, job_id, JobStatus::Succeeded, &detail).await?;
    ports
        .versions()
        .note_last_job(&form.result_set, job_id, JobStatus::Succeeded)
        .await?;
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

/// The pointer to the new version, naming the version it replaces (`current`) and the banned
/// items (sorted, as readers show them).
fn new_pointer<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &Delivery,
    banned: HashSet<String>,
    current: Option<Pointer>,
) -> Pointer {
    let excluded_items = sorted(banned);
    Pointer {
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
        previous_version: current.map(|p| p.version).filter(|p| *p != delivery.version),
        segment_dimensions: SegmentDimensions::of(form),
        output: form.output,
    }
}

/// Banned items in the order readers show them.
fn sorted(items: HashSet<String>) -> Vec<String> {
    let mut items: Vec<String> = items.into_iter().collect();
    items.sort();
    items
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

/// Moves the job to its final status (`SUCCEEDED` or `HELD`).
async fn close_job<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    to: JobStatus,
    detail: &str,
) -> Result<(), DeliverError> {
    match ports
        .jobs()
        .transition(job_id, to, detail, TransitionExtras::default())
        .await
    {
        Ok(()) => Ok(()),
        // A retried publish after the job was closed: nothing left to do.
        Err(TransitionError::Illegal { from, .. }) if from == to => Ok(()),
        Err(err) => Err(err.into()),
    }
}
