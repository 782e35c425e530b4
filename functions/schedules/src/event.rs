//! The events the function is invoked with.

use recoflow_core::job::JobId;
use recoflow_core::schedule::firing::{Firing, FiringOutcome};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum SchedulesEvent {
    /// A schedule fired (the Scheduler's target input, `schedule::create::firing_input`).
    Firing(Firing),
    /// A job execution ended (the EventBridge rule on the state machine's status changes):
    /// the execution's name is the job id.
    ExecutionEnded {
        job_id: String,
        execution_status: String,
    },
}

/// What the invocation did (its result, for logs and tests).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "handled", rename_all = "snake_case")]
pub enum SchedulesOutput {
    Firing(FiringOutcome),
    ExecutionEnded {
        /// The schedule's next job, started because this one ended.
        started: Option<JobId>,
    },
}
