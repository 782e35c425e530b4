//! What RecordFailure works with: the jobs table (in Lambda, `live`; in tests, the fakes).

use recoflow_core::ports::JobStore;

pub trait RecordFailurePorts: Send + Sync {
    type Jobs: JobStore;
    fn jobs(&self) -> &Self::Jobs;
}
