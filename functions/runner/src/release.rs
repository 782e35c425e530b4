//! `ReleaseQuota`: gives the phase's slot back once the phase is done, whatever the job's
//! status (a release after a cancel or a failure is as welcome), and after the training a
//! Personalize job's hold on its datasets, handing what it frees to the head of each queue
//! (`hand_over.rs`). Repeating it is harmless.

use recoflow_core::job::JobId;
use recoflow_core::phase::Phase;
use recoflow_core::ports::SlotStore;
use recoflow_core::quota::{Pool, SlotHolder};
use tracing::info;

use crate::datasets;
use crate::error::RunnerError;
use crate::hand_over::serve_queue;
use crate::ports::RunnerPorts;
use crate::step::{job_form, job_record, RunnerOutput};

pub async fn release<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError> {
    let record = job_record(ports.jobs(), job_id).await?;
    let form = job_form(&record)?;
    let mut released = Vec::new();
    if let Some((pool, units)) = Pool::for_phase(&form, phase) {
        // A holder is known by its job and phase; its lease does not matter to a release.
        let holder = SlotHolder::new(job_id, phase, units, 0, 0);
        let held = ports.slots().release(&pool, &holder).await?;
        // Served whether or not this call freed the units: a repeated release (after a
        // failed first one) still hands them on.
        let served = serve_queue(ports, &pool).await;
        info!(pool = %pool, released = held, served, "phase slot released");
        released.push(format!("slot in {pool} released"));
    }
    if let Some(group) = datasets::give_back(ports, &record, &form, phase).await? {
        info!(dataset_group = %group, "datasets released");
        released.push(format!("datasets of {group} released"));
    }
    if released.is_empty() {
        return Ok(RunnerOutput::done(job_id, "no quota held"));
    }
    Ok(RunnerOutput::done(job_id, &released.join("; ")))
}
