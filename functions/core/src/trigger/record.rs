//! A trigger's record in the triggers table (key `pk` = the trigger id): the data-driven form,
//! whether it still watches, and the jobs it started with the files' versions each used. Every
//! change is one conditional write on `revision`.

use serde::{Deserialize, Serialize};

use super::{TriggerId, TriggerSettings};
use crate::data_version::DataVersion;
use crate::form::JobForm;
use crate::job::{JobId, JobSource};

/// Runs kept on the record (the newest), each with the versions it used.
pub const RUNS_KEPT: usize = 20;

/// The partition key of the triggers table's `RecentIndex`; a deleted trigger has none, so it
/// leaves the listing.
pub fn trigger_listing() -> String {
    "trigger".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum TriggerState {
    Enabled,
    /// Watches nothing any more; the record stays a while (its jobs name it).
    Deleted,
}

/// One job the trigger started, and the versions of the data files that made it start.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRun {
    pub job_id: JobId,
    pub at: String,
    pub files: Vec<DataVersion>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TriggerRecord {
    /// The table's key: the trigger id (watch entries use `watch#<uri>`).
    #[serde(rename = "pk")]
    pub trigger_id: TriggerId,
    /// `trigger` while the trigger exists (see [`trigger_listing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<String>,
    pub state: TriggerState,
    /// The data-driven form, its `trigger` block included.
    pub form: JobForm,
    pub form_digest: String,
    /// How the form was submitted.
    pub source: JobSource,
    pub created_at: String,
    pub updated_at: String,
    /// Unix seconds: until the first run, a file counts as new when written at or after this.
    pub registered_at: i64,
    /// Bumped by every write; a write happens only if the record is still at the revision read.
    pub revision: u64,
    /// The newest runs, oldest first (at most [`RUNS_KEPT`]).
    #[serde(default)]
    pub runs: Vec<TriggerRun>,
    /// Unix seconds: a deleted trigger's record expires (DynamoDB TTL).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl TriggerRecord {
    /// A new, enabled trigger of a valid data-driven form.
    pub fn new(
        trigger_id: TriggerId,
        form: JobForm,
        form_digest: String,
        source: JobSource,
        now: &str,
        now_unix: i64,
    ) -> Self {
        Self {
            trigger_id,
            listing: Some(trigger_listing()),
            state: TriggerState::Enabled,
            form,
            form_digest,
            source,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            registered_at: now_unix,
            revision: 0,
            runs: Vec::new(),
            expires_at: None,
        }
    }

    pub fn settings(&self) -> &TriggerSettings {
        self.form
            .trigger
            .as_ref()
            .expect("a trigger's form has its trigger block")
    }

    /// The data files the trigger watches: the form's dataset files (field, S3 URI).
    pub fn watched(&self) -> Vec<(&'static str, &str)> {
        self.form.dataset.files()
    }

    /// The URIs of the watched files.
    pub fn watched_uris(&self) -> Vec<String> {
        self.watched()
            .into_iter()
            .map(|(_, uri)| uri.to_owned())
            .collect()
    }

    /// The form each job runs: the data-driven form without its trigger block (`force` set when
    /// the check was forced).
    pub fn job_form(&self, force: bool) -> JobForm {
        JobForm {
            trigger: None,
            force: self.form.force || force,
            ..self.form.clone()
        }
    }

    /// The jobs it started, newest first.
    pub fn earlier_runs(&self) -> Vec<JobId> {
        self.runs.iter().rev().map(|run| run.job_id.clone()).collect()
    }

    /// Notes a run, keeping the newest [`RUNS_KEPT`]; a run noted already is not noted twice.
    /// `false`: it was noted before.
    pub fn note_run(&mut self, run: TriggerRun) -> bool {
        if self.runs.iter().any(|r| r.job_id == run.job_id) {
            return false;
        }
        self.runs.push(run);
        let excess = self.runs.len().saturating_sub(RUNS_KEPT);
        self.runs.drain(..excess);
        true
    }
}
