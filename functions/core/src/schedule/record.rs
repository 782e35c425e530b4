//! A schedule's record in the schedules table (partition key `schedule_id`): the recurring form,
//! whether it fires, what its firings became, and the job a new firing has to wait for.
//! Every change is one conditional write on `revision`, so two firings (or a firing and a
//! pause) deciding at once cannot both win.

use std::fmt;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::{utc_text, ScheduleSettings, Timing, NEXT_RUNS_SHOWN};
use crate::form::JobForm;
use crate::job::id::{hex_digest, readable_stem, HASH_CHARS};
use crate::job::{JobId, JobSource};

/// Firings kept on the record (the newest), each with its job.
pub const RUNS_KEPT: usize = 20;

/// The partition key of the schedules table's `RecentIndex`; a deleted schedule has none, so
/// it leaves the listing.
pub fn schedule_listing() -> String {
    "schedule".to_owned()
}

/// A schedule id: also its EventBridge Scheduler schedule's name (1-64 of `[0-9A-Za-z_.-]`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct ScheduleId(String);

impl ScheduleId {
    /// The schedule a submission creates: derived from the job id the submission would have
    /// had (S3 object version, idempotency key), so a repeated submission creates one schedule.
    pub fn for_submission(job_name: &str, submission: &JobId) -> Self {
        let digest = hex_digest(&["schedule-of", submission.as_str()]);
        Self(format!("{}-{}", readable_stem(job_name), &digest[..HASH_CHARS]))
    }

    /// Accepts an id from a URL path or a firing, refusing anything that cannot be one.
    pub fn parse(id: &str) -> Option<Self> {
        let valid = (1..=64).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
        valid.then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for ScheduleId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id).ok_or_else(|| format!("{id:?} is not a schedule id"))
    }
}

impl From<ScheduleId> for String {
    fn from(id: ScheduleId) -> Self {
        id.0
    }
}

impl fmt::Display for ScheduleId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Whether a schedule fires. `PAUSED` is its Scheduler schedule `DISABLED`; a deleted one's
/// record stays (its queued jobs still start in turn) but is no longer shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::IntoStaticStr, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum ScheduleState {
    Enabled,
    Paused,
    Deleted,
}

/// What one firing became.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum RunOutcome {
    /// Its job was started.
    Started,
    /// Its job waits QUEUED for the schedule's running job (`overlap: queue`).
    Queued,
    /// Its job was recorded SKIPPED.
    Skipped,
}

/// One firing and its job.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRun {
    /// The firing's scheduled time (RFC 3339, UTC).
    pub scheduled_time: String,
    pub job_id: JobId,
    pub outcome: RunOutcome,
    /// When the firing arrived.
    pub at: String,
}

/// A change of state, and who made it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StateChange {
    pub state: ScheduleState,
    pub by: String,
    pub at: String,
}

/// An upcoming firing, in UTC and in the schedule's zone.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextRun {
    pub utc: String,
    /// The same instant with the zone's offset then, e.g. `2026-12-07T03:00:00+09:00`.
    pub local: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScheduleRecord {
    pub schedule_id: ScheduleId,
    /// `schedule` while the schedule exists (see [`schedule_listing`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listing: Option<String>,
    pub state: ScheduleState,
    /// The recurring form, its `schedule` block included.
    pub form: JobForm,
    pub form_digest: String,
    /// How the form was submitted.
    pub source: JobSource,
    pub created_at: String,
    pub updated_at: String,
    /// When a rate without a start counts from: the creation, or the last resume.
    pub anchor: String,
    /// Bumped by every write; a write happens only if the record is still at the revision read.
    pub revision: u64,
    /// The job the last started firing ran: a new firing overlaps it while it runs.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub active_job: Option<JobId>,
    /// Jobs waiting QUEUED for `active_job` to end, oldest first (`overlap: queue`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waiting: Vec<JobId>,
    /// The newest firings, oldest first (at most [`RUNS_KEPT`]).
    #[serde(default)]
    pub runs: Vec<ScheduleRun>,
    #[serde(default)]
    pub changes: Vec<StateChange>,
    /// Unix seconds: a deleted schedule's record expires (DynamoDB TTL) once nothing waits.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

impl ScheduleRecord {
    /// A new, enabled schedule of a valid recurring form.
    pub fn new(
        schedule_id: ScheduleId,
        form: JobForm,
        form_digest: String,
        source: JobSource,
        now: &str,
    ) -> Self {
        Self {
            schedule_id,
            listing: Some(schedule_listing()),
            state: ScheduleState::Enabled,
            form,
            form_digest,
            source,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            anchor: now.to_owned(),
            revision: 0,
            active_job: None,
            waiting: Vec::new(),
            runs: Vec::new(),
            changes: Vec::new(),
            expires_at: None,
        }
    }

    pub fn settings(&self) -> &ScheduleSettings {
        self.form
            .schedule
            .as_ref()
            .expect("a schedule's form has its schedule block")
    }

    /// When it fires (the block was validated when the schedule was made).
    pub fn timing(&self) -> Option<Timing> {
        let anchor = self.anchor.parse::<Timestamp>().ok();
        self.settings().timing(anchor).ok()
    }

    /// The next firings from `now` on (none while paused).
    pub fn next_runs(&self, now: Timestamp) -> Vec<NextRun> {
        if self.state != ScheduleState::Enabled {
            return Vec::new();
        }
        let Some(timing) = self.timing() else {
            return Vec::new();
        };
        timing
            .upcoming(now, NEXT_RUNS_SHOWN)
            .into_iter()
            .map(|instant| NextRun {
                utc: utc_text(instant),
                local: timing.zone.local_rfc3339(instant),
            })
            .collect()
    }

    /// The form each firing's job runs: the recurring form without its schedule block.
    pub fn job_form(&self) -> JobForm {
        JobForm {
            schedule: None,
            ..self.form.clone()
        }
    }

    /// Notes a firing's run, keeping the newest [`RUNS_KEPT`]; a firing noted already (a
    /// re-delivery) is not noted twice.
    pub fn note_run(&mut self, run: ScheduleRun) {
        if self.runs.iter().any(|r| r.job_id == run.job_id) {
            return;
        }
        self.runs.push(run);
        let excess = self.runs.len().saturating_sub(RUNS_KEPT);
        self.runs.drain(..excess);
    }

    /// The jobs the schedule started before `job_id`, newest first (what Prepare compares a
    /// new job with, to skip it when nothing changed).
    pub fn earlier_runs(&self, job_id: &JobId) -> Vec<JobId> {
        self.runs
            .iter()
            .rev()
            .filter(|run| &run.job_id != job_id && run.outcome == RunOutcome::Started)
            .map(|run| run.job_id.clone())
            .collect()
    }

    /// The run of this job, if it is kept.
    pub fn run_mut(&mut self, job_id: &JobId) -> Option<&mut ScheduleRun> {
        self.runs.iter_mut().find(|r| &r.job_id == job_id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::test_form;

    #[test]
    fn ids_are_derived_and_fit_the_schedulers_names() {
        let submission = JobId::for_idempotency_key("k-1");
        let id = ScheduleId::for_submission("Nightly Spring!", &submission);
        assert_eq!(id, ScheduleId::for_submission("Nightly Spring!", &submission));
        assert!(id.as_str().starts_with("nightly-spring-"), "{id}");
        assert!(ScheduleId::parse(id.as_str()).is_some());
        let long = ScheduleId::for_submission(&"x".repeat(100), &submission);
        assert!(long.as_str().len() <= 64, "{long}");
        for bad in ["", "a/b", "x y", &"y".repeat(65)] {
            assert!(ScheduleId::parse(bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn runs_are_noted_once_and_the_newest_kept() {
        let mut record = ScheduleRecord::new(
            ScheduleId::parse("s-1").unwrap(),
            test_form("personalize"),
            "d".into(),
            JobSource::Api {
                idempotency_key: None,
            },
            "2026-12-01T00:00:00Z",
        );
        for i in 0..RUNS_KEPT + 3 {
            let run = ScheduleRun {
                scheduled_time: format!("t{i}"),
                job_id: JobId::parse(&format!("j-{i}")).unwrap(),
                outcome: RunOutcome::Started,
                at: "now".into(),
            };
            record.note_run(run.clone());
            record.note_run(run);
        }
        assert_eq!(record.runs.len(), RUNS_KEPT);
        assert_eq!(record.runs[0].scheduled_time, "t3");
    }
}
