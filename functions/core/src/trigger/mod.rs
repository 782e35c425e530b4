//! Data-driven triggers: a form with a `trigger` block becomes a trigger (its record in the
//! triggers table) instead of a job, and a job starts from the stored form whenever every data
//! file of the form has a newer version than the last run used, once no file has changed for
//! `quiet_seconds` (an upload of three files starts one job, not three).
//!
//! - `record`: the trigger's record (its form, the runs it started and the files' versions
//!   each used).
//! - `create`: submitting a data-driven form; `remove`: deleting the trigger.
//! - `arrival`: an S3 event on a watched file starts a delayed check (a Step Functions
//!   execution that waits the quiet period; named by the event's object version, so a
//!   replayed event starts nothing).
//! - `check`: after the wait, the files' heads say whether to start a job, wait longer, or do
//!   nothing; the job's id derives from the trigger and the versions, so any number of checks
//!   of one upload start one job.
//! - `ports`: the triggers table and the delayed checks.

pub mod arrival;
pub mod check;
pub mod create;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod ports;
pub mod record;
pub mod remove;

use std::fmt;

use serde::{Deserialize, Serialize};

pub use record::{TriggerRecord, TriggerRun, TriggerState};

use crate::job::id::{hex_digest, readable_stem, HASH_CHARS};
use crate::job::JobId;
use crate::schedule::ScheduleId;

/// The quiet period when a form gives none.
pub const DEFAULT_QUIET_SECONDS: u32 = 60;

/// A form's `trigger` block.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TriggerSettings {
    /// A job starts when every data file has a new version (the schema allows only `true`).
    pub on_new_data: bool,
    /// How long no data file may change before the job starts.
    #[serde(default = "default_quiet_seconds")]
    pub quiet_seconds: u32,
}

fn default_quiet_seconds() -> u32 {
    DEFAULT_QUIET_SECONDS
}

/// A trigger id: readable, derived from the submission (1-64 of `[0-9A-Za-z_.-]`, the rule
/// schedule ids keep).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TriggerId(String);

impl TriggerId {
    /// The trigger a submission creates: derived from the job id the submission would have had
    /// (S3 object version, idempotency key), so a repeated submission creates one trigger.
    pub fn for_submission(job_name: &str, submission: &JobId) -> Self {
        let digest = hex_digest(&["trigger-of", submission.as_str()]);
        Self(format!("{}-{}", readable_stem(job_name), &digest[..HASH_CHARS]))
    }

    /// Accepts an id from a URL path or an event, refusing anything that cannot be one.
    pub fn parse(id: &str) -> Option<Self> {
        ScheduleId::parse(id).map(|valid| Self(valid.as_str().to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TriggerId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id).ok_or_else(|| format!("{id:?} is not a trigger id"))
    }
}

impl From<TriggerId> for String {
    fn from(id: TriggerId) -> Self {
        id.0
    }
}

impl fmt::Display for TriggerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_derived_readable_and_checked() {
        let submission = JobId::for_idempotency_key("k-1");
        let id = TriggerId::for_submission("Nightly Data!", &submission);
        assert_eq!(id, TriggerId::for_submission("Nightly Data!", &submission));
        assert!(id.as_str().starts_with("nightly-data-"), "{id}");
        assert_ne!(
            id.as_str(),
            ScheduleId::for_submission("Nightly Data!", &submission).as_str(),
            "a schedule and a trigger of one submission differ"
        );
        assert!(TriggerId::parse(id.as_str()).is_some());
        for bad in ["", "a/b", "x y", &"y".repeat(65)] {
            assert!(TriggerId::parse(bad).is_none(), "{bad}");
        }
        let block: TriggerSettings = serde_json::from_str(r#"{"on_new_data": true}"#).unwrap();
        assert_eq!(block.quiet_seconds, DEFAULT_QUIET_SECONDS);
    }
}
