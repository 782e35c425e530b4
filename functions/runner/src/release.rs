//! `ReleaseQuota`: gives the phase's slot back once the phase is done, whatever the job's
//! status (a release after a cancel or a failure is as welcome). Repeating it is harmless.

use recoflow_core::job::JobId;
use recoflow_core::phase::Phase;
use recoflow_core::ports::SlotStore;
use recoflow_core::quota::{Pool, SlotHolder};
use tracing::info;

use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::step::{job_form, job_record, RunnerOutput};

pub async fn release<P: RunnerPorts>(
    ports: &P,
    job_id: &JobId,
    phase: Phase,
) -> Result<RunnerOutput, RunnerError> {
    let record = job_record(ports.jobs(), job_id).await?;
    let form = job_form(&record)?;
    let Some((pool, units)) = Pool::for_phase(&form, phase) else {
        return Ok(RunnerOutput::done(job_id, "no quota held"));
    };
    // A holder is known by its job and phase; its lease does not matter to a release.
    let holder = SlotHolder::new(job_id, phase, units, 0, 0);
    let released = ports.slots().release(&pool, &holder).await?;
    info!(pool = %pool, released, "phase slot released");
    Ok(RunnerOutput::done(job_id, &format!("slot in {pool} released")))
}
