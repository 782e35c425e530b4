//! The events the function is invoked with.

use aws_lambda_events::event::s3::S3Event;
use recoflow_core::job::JobId;
use recoflow_core::schedule::firing::{Firing, FiringOutcome};
use recoflow_core::trigger::arrival::CheckInput;
use recoflow_core::trigger::check::CheckAnswer;
use recoflow_core::trigger::TriggerId;
use serde::{Deserialize, Serialize};

/// Any invocation: one of recoflow's own events (tagged by `kind`), or the data bucket's S3
/// notification (which has no `kind`, so it is tried second).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(untagged)]
pub enum Invocation {
    Event(SchedulesEvent),
    DataWritten(S3Event),
}

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
    /// A trigger's delayed check, after its wait (`statemachines/trigger-check.asl.json`).
    TriggerCheck(CheckInput),
}

/// What the invocation did (its result, for logs, tests and the trigger-check state machine).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "handled", rename_all = "snake_case")]
pub enum SchedulesOutput {
    Firing(FiringOutcome),
    ExecutionEnded {
        /// The schedule's next job, started because this one ended.
        started: Option<JobId>,
    },
    /// Data files were written: the triggers whose check was started.
    DataWritten {
        checks: Vec<TriggerId>,
    },
    TriggerCheck(CheckAnswer),
}
