//! What Step Functions passes to recoflow's functions. One type per input shape, built and
//! parsed only here, so the execution input, the states' `Parameters` and the functions agree.

use serde::{Deserialize, Serialize};

use crate::job::JobId;
use crate::phase::Phase;

/// The input of a job's execution, and of the tasks that only need the job: `{"job_id": "…"}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobTask {
    pub job_id: JobId,
}

impl JobTask {
    pub fn new(job_id: &JobId) -> Self {
        Self {
            job_id: job_id.clone(),
        }
    }

    /// The JSON document an execution starts with.
    pub fn execution_input(&self) -> String {
        serde_json::to_string(self).expect("a job id always serialises")
    }
}

/// The runner function's input: one step of one phase, or the clean-up of a job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum RunnerTask {
    /// Take the phase's quota slot, or say the job waits for it (`WaitForQuota`); fail with
    /// `QuotaUnavailable` once it has waited as long as it may.
    Acquire { job_id: JobId, phase: Phase },
    /// `WaitForQuota` (a callback state): take the slot, or a place in the pool's queue with
    /// the state's task token, which whoever frees a slot sends once it took it for the job.
    WaitForQuota {
        job_id: JobId,
        phase: Phase,
        token: TaskToken,
    },
    /// Launch what is missing, look at what runs, relaunch after platform failures.
    Advance { job_id: JobId, phase: Phase },
    /// Give the phase's slot back.
    Release { job_id: JobId, phase: Phase },
    /// Stop whatever the job still runs and release its slots: the failure path, and the
    /// EventBridge rule for executions stopped or timed out from outside.
    Cleanup {
        job_id: JobId,
        /// Set when the execution ended outside the state machine's failure path (the
        /// EventBridge rule passes `ABORTED` or `TIMED_OUT`): the job is then marked FAILED
        /// here if it still shows as running.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        execution_status: Option<String>,
    },
    /// The periodic sweep (an EventBridge schedule): closes running jobs whose execution ended
    /// without closing them (a clean-up event lost or dead-lettered) and frees their slots.
    Sweep,
}

impl RunnerTask {
    /// The job the task is about; `None` for the sweep, which looks at every job.
    pub fn job_id(&self) -> Option<&JobId> {
        match self {
            RunnerTask::Acquire { job_id, .. }
            | RunnerTask::WaitForQuota { job_id, .. }
            | RunnerTask::Advance { job_id, .. }
            | RunnerTask::Release { job_id, .. }
            | RunnerTask::Cleanup { job_id, .. } => Some(job_id),
            RunnerTask::Sweep => None,
        }
    }
}

/// The deliver function's input: one step of a job's delivery. The state machine runs `begin`,
/// then a Distributed Map with one `fallbacks` worker per share of the users, another with one
/// `file` worker per score file, then `publish` once every worker has finished.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum DeliverTask {
    /// The version (its record, the result set's entry), the fallback lists (an audience:
    /// the whole audience), the job `DELIVERING`; answers where the score files are.
    Begin { job_id: JobId },
    /// Share `share` of a users' lists version's fallbacks: its users' and their interactions'
    /// counts, then its users' segments from where its last invocation stopped, as far as one
    /// invocation's time budget goes; answers whether the share is done.
    Fallbacks { job_id: JobId, share: u32 },
    /// One score file (`key`, in the results bucket), from where its last invocation stopped,
    /// as far as one invocation's time budget goes; answers whether the file is done.
    File { job_id: JobId, key: String },
    /// Checks every score file was delivered, merges their counts and metrics, asks the
    /// quality gate, and makes the version current (or holds it).
    Publish { job_id: JobId },
}

impl DeliverTask {
    pub fn job_id(&self) -> &JobId {
        match self {
            DeliverTask::Begin { job_id }
            | DeliverTask::Fallbacks { job_id, .. }
            | DeliverTask::File { job_id, .. }
            | DeliverTask::Publish { job_id } => job_id,
        }
    }
}

/// A callback state's task token (`$$.Task.Token`): opaque, and kept out of logs, since it
/// lets its bearer resume the execution.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TaskToken(pub String);

impl std::fmt::Debug for TaskToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "TaskToken({} characters)", self.0.len())
    }
}

/// What `Advance` answers: whether the phase is done, and how long to wait before the next look.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PhaseProgress {
    pub done: bool,
    pub wait_seconds: u32,
}

/// The notify function's input from the state machine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum NotifyTask {
    /// A failed job's message (the failure path, after RecordFailure).
    Failure { job_id: JobId },
    /// A succeeded job's message, when its form asks for one.
    Success { job_id: JobId },
    /// The summary of failures folded under one signature, once their window has closed.
    Summary { signature: String },
    /// A job whose version the quality gate held: what failed, with charts (NotifyHeld).
    Held { job_id: JobId },
    /// The freshness check (an EventBridge schedule): one alert per result set whose current
    /// version is older than its form's `expect_refresh_hours`.
    Freshness,
}

/// RecordFailure's input: the job, what the Catch caught (`ResultPath: $.error`) and the state
/// whose Catch it was (the `failed_state` variable each Catch assigns).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordFailureTask {
    pub job_id: String,
    pub error: CaughtError,
    #[serde(default)]
    pub failed_state: Option<String>,
}

/// What Step Functions puts in a Catch result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaughtError {
    #[serde(rename = "Error", default)]
    pub error: String,
    #[serde(rename = "Cause", default)]
    pub cause: String,
}

/// What became of a notify call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum NotifyState {
    Delivered,
    Undelivered,
    /// The job's message went out before (a retried step): nothing sent.
    AlreadyNotified,
    /// A success message the form did not ask for.
    NotAsked,
    /// Held for the summary of its cause's window.
    Folded,
    /// An S3 event that is not a rejection report.
    NoReport,
    SummaryDelivered,
    SummaryUndelivered,
    /// Another execution sent the summary first.
    SummarySentElsewhere,
    /// The job's version is not held (never was, or was promoted or discarded since): nothing
    /// sent.
    NotHeld,
    /// The freshness check ran (its alerts, if any, went out once each).
    FreshnessChecked,
}

/// What notify answers: a folded failure's execution waits `wait_seconds`, then asks for the
/// summary of `signature` (whichever execution asks first sends it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NotifyOutcome {
    pub state: NotifyState,
    pub wait_seconds: u32,
    #[serde(default)]
    pub signature: String,
}

impl NotifyOutcome {
    /// An outcome that asks for no summary.
    pub fn of(state: NotifyState) -> Self {
        Self {
            state,
            wait_seconds: 0,
            signature: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn execution_input_is_the_job_id_alone() {
        let task = JobTask::new(&JobId::parse("spring-1").unwrap());
        assert_eq!(task.execution_input(), r#"{"job_id":"spring-1"}"#);
        let parsed: JobTask = serde_json::from_str(r#"{"job_id":"spring-1","extra":1}"#).unwrap();
        assert_eq!(parsed, task);
        assert!(serde_json::from_str::<JobTask>(r#"{"job_id":"../x"}"#).is_err());
    }

    #[test]
    fn notify_tasks_are_tagged_by_kind() {
        let held: NotifyTask = serde_json::from_str(r#"{"kind":"held","job_id":"j-1"}"#).unwrap();
        assert_eq!(
            held,
            NotifyTask::Held {
                job_id: JobId::parse("j-1").unwrap()
            }
        );
        // The schedule's constant input.
        let check: NotifyTask = serde_json::from_str(r#"{"kind":"freshness"}"#).unwrap();
        assert_eq!(check, NotifyTask::Freshness);
        assert_eq!(NotifyState::NotHeld.to_string(), "NOT_HELD");
    }

    #[test]
    fn runner_tasks_are_tagged_by_action() {
        let task: RunnerTask =
            serde_json::from_str(r#"{"action":"acquire","job_id":"j-1","phase":"train"}"#).unwrap();
        assert_eq!(
            task,
            RunnerTask::Acquire {
                job_id: JobId::parse("j-1").unwrap(),
                phase: Phase::Train
            }
        );
        let cleanup: RunnerTask =
            serde_json::from_str(r#"{"action":"cleanup","job_id":"j-1","execution_status":"ABORTED"}"#)
                .unwrap();
        assert_eq!(cleanup.job_id().unwrap().as_str(), "j-1");
        let sweep: RunnerTask = serde_json::from_str(r#"{"action":"sweep"}"#).unwrap();
        assert_eq!((sweep.clone(), sweep.job_id()), (RunnerTask::Sweep, None));
        let wait: RunnerTask = serde_json::from_str(
            r#"{"action":"wait_for_quota","job_id":"j-1","phase":"score","token":"AAAA-secret"}"#,
        )
        .unwrap();
        assert_eq!(wait.job_id().unwrap().as_str(), "j-1");
        assert!(!format!("{wait:?}").contains("secret"), "{wait:?}");
    }
}
