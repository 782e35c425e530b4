//! Giving a job's quota slots back: what cancel and clean-up share.

use crate::errors::ServiceError;
use crate::form::JobForm;
use crate::job::JobId;
use crate::phase::Phase;
use crate::ports::SlotStore;
use crate::quota::{Pool, SlotHolder};

/// Gives back every slot the job may hold (one per phase of its plan). Repeating it is
/// harmless: a release removes only this job's holder of each pool.
pub async fn release_job_slots<S: SlotStore + ?Sized>(
    slots: &S,
    job_id: &JobId,
    form: &JobForm,
) -> Result<Vec<Pool>, ServiceError> {
    let mut released = Vec::new();
    for &phase in Phase::plan(form.backend) {
        let Some((pool, units)) = Pool::for_phase(form, phase) else {
            continue;
        };
        let holder = SlotHolder::new(job_id, phase, units, 0, 0);
        if slots.release(&pool, &holder).await? {
            released.push(pool);
        }
    }
    Ok(released)
}
