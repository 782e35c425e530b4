//! The delivery on the job record: saved after every step that moved it, so a retried or
//! resumed invocation continues from there; and the check every step makes that the job is
//! still `DELIVERING`.

use recoflow_core::delivery::Delivery;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{JobPatch, JobStore};

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// Saves where the delivery stands, only while the job is still `DELIVERING`: a job cancelled
/// or failed meanwhile stops the delivery with its status.
pub(crate) async fn save<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    delivery: &Delivery,
) -> Result<(), DeliverError> {
    patch_while_delivering(ports, job_id, JobPatch::Delivery(delivery.clone())).await
}

/// Writes `patch` on the job record only while the job is `DELIVERING`; otherwise the
/// delivery stops with the job's status.
pub(crate) async fn patch_while_delivering<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    patch: JobPatch,
) -> Result<(), DeliverError> {
    let written = ports
        .jobs()
        .patch(job_id, patch, Some(&[JobStatus::Delivering]))
        .await?;
    if !written {
        check_delivering(ports, job_id).await?;
        // The condition failed though the job reads DELIVERING now: refused all the same.
        return Err(DeliverError::NotDeliverable {
            job_id: job_id.clone(),
            status: JobStatus::Delivering,
        });
    }
    Ok(())
}

/// Stops a step of a job no longer `DELIVERING` (cancelled or failed meanwhile) with its status.
pub(crate) async fn check_delivering<P: DeliverPorts>(ports: &P, job_id: &JobId) -> Result<(), DeliverError> {
    let status = ports
        .jobs()
        .get(job_id)
        .await?
        .map(|r| r.status)
        .unwrap_or(JobStatus::Failed);
    if status != JobStatus::Delivering {
        return Err(DeliverError::NotDeliverable {
            job_id: job_id.clone(),
            status,
        });
    }
    Ok(())
}
