//! A job's status life cycle: which moves are legal (the jobs table enforces them with a
//! conditional write) and the history kept of them.

use serde::{Deserialize, Serialize};

#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum JobStatus {
    Received,
    Rejected,
    Queued,
    WaitingForQuota,
    Preparing,
    Training,
    Scoring,
    Importing,
    Delivering,
    Succeeded,
    /// Delivered, but the quality gate held the version back (`on_fail: hold`): it is written
    /// and not published, and the version that was current keeps serving.
    Held,
    Failed,
    Cancelled,
    /// Never run: a schedule's firing while its previous job still ran (`overlap: skip`), or
    /// a scheduled or triggered job whose form and data had not changed since the last
    /// success. The job's `skipped` says why and names the job it deferred to.
    Skipped,
}

impl JobStatus {
    /// Every status, in life-cycle order.
    pub fn all() -> impl Iterator<Item = JobStatus> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded
                | JobStatus::Held
                | JobStatus::Failed
                | JobStatus::Rejected
                | JobStatus::Cancelled
                | JobStatus::Skipped
        )
    }

    /// Statuses a job may move to `self` from. The jobs table enforces this with a
    /// conditional write, so two racing writers cannot take a job backwards.
    pub fn allowed_from(self) -> &'static [JobStatus] {
        use JobStatus::*;
        match self {
            Received => &[],
            Rejected => &[Received],
            Queued => &[Received],
            Preparing => &[Queued],
            // Quota is awaited before each phase and whenever the service refuses a launch.
            WaitingForQuota => &[Preparing, Importing, Training, Scoring],
            Importing => &[Preparing, WaitingForQuota],
            Training => &[Preparing, WaitingForQuota, Importing],
            // From Preparing: a retry that starts at scoring on an earlier job's model.
            Scoring => &[Preparing, Training, WaitingForQuota],
            Delivering => &[Scoring],
            Succeeded | Held => &[Delivering],
            Failed | Cancelled => &RUNNING,
            // Decided before anything is launched: at the firing (the record is written
            // SKIPPED), or once the job is queued or preparing and finds nothing changed.
            Skipped => &[Received, Queued, Preparing],
        }
    }

    /// Whether a job in this status is still being worked on.
    pub fn is_running(self) -> bool {
        RUNNING.contains(&self)
    }

    pub fn can_move_to(self, next: JobStatus) -> bool {
        next.allowed_from().contains(&self)
    }
}

/// Statuses of a job that has not finished (the ones `FAILED` and `CANCELLED` end).
const RUNNING: [JobStatus; 8] = [
    JobStatus::Received,
    JobStatus::Queued,
    JobStatus::WaitingForQuota,
    JobStatus::Preparing,
    JobStatus::Training,
    JobStatus::Scoring,
    JobStatus::Importing,
    JobStatus::Delivering,
];

/// One step of a job's life: what it became, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: JobStatus,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}
