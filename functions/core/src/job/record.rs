//! The item kept per job in the jobs table, and the parts of it other steps fill in.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{JobId, JobStatus, StatusChange};
use crate::delivery::Delivery;
use crate::form::JobForm;
use crate::phase::LaunchedResource;
use crate::quality::GateOutcome;
use crate::validation::FormProblem;

/// Where a job came from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum JobSource {
    S3 {
        bucket: String,
        key: String,
        version: String,
    },
    Api {
        idempotency_key: Option<String>,
    },
    /// A firing of a schedule (EventBridge Scheduler), at its scheduled time (RFC 3339, UTC).
    Schedule {
        schedule_id: String,
        scheduled_time: String,
    },
    /// A data-driven trigger: every data file of its form had a new version.
    Trigger {
        trigger_id: String,
    },
    /// `POST /jobs/{id}/retry`: the job `retry_of` run again from `from_phase`, reusing what
    /// it finished before that phase.
    Retry {
        retry_of: JobId,
        from_phase: crate::phase::Phase,
    },
}

impl JobSource {
    /// A job its schedule or trigger started on its own (such a job is skipped when nothing
    /// changed since the last success).
    pub fn is_unattended(&self) -> bool {
        matches!(self, JobSource::Schedule { .. } | JobSource::Trigger { .. })
    }
}

/// Why a job was never run (status `SKIPPED`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Skipped {
    pub cause: SkipCause,
    /// The job it deferred to: the schedule's job that was still running, or the succeeded
    /// job whose form and data it would have repeated.
    pub job_id: JobId,
    /// What happened, for people.
    pub reason: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SkipCause {
    /// The schedule's previous job still ran (`overlap: skip`), or too many waited
    /// (`overlap: queue`).
    Overlap,
    /// The form and the data files' versions are those of the schedule's or trigger's last
    /// succeeded job (found by Prepare, before anything is launched).
    Unchanged,
}

/// Why a job failed, as the state machine's Catch reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFailure {
    /// Stable error name, e.g. `DatasetMissing` (an `ErrorName`, or one of Step Functions'
    /// own such as `States.Timeout`).
    pub error: String,
    pub cause: String,
    /// The job's status when it failed, e.g. `TRAINING`: the phase it was in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<JobStatus>,
    /// The state machine state whose Catch took the failure, e.g. `Prepare`, `RunPhases`,
    /// `Deliver`; absent when the failure was recorded outside the state machine.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// A data file as Prepare checked it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PreparedFile {
    /// Form field, e.g. `dataset.users`.
    pub field: String,
    pub uri: String,
    pub bytes: u64,
    /// Header columns, upper-cased.
    pub columns: Vec<String>,
}

/// The count Prepare keeps of the users file's rows (`counts`): how many shares Deliver counts
/// the fallbacks in.
pub const USERS_FILE_ROWS: &str = "users_file_rows";

/// What Prepare found and wrote: the launch steps build on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    pub files: Vec<PreparedFile>,
    /// The prefix (`s3://…/jobs/<job>/input/users/`) of the parts holding the users to score
    /// (the form's segment) as JSON lines `{"userId": "…"}`: `crate::scoring_parts`.
    pub scoring_input: String,
    pub users_to_score: u64,
    /// Parts written under `scoring_input`, and the group folders they are in.
    #[serde(default)]
    pub scoring_parts: u64,
    #[serde(default)]
    pub scoring_groups: u64,
}

impl Prepared {
    pub fn file(&self, field: &str) -> Option<&PreparedFile> {
        self.files.iter().find(|f| f.field == field)
    }
}

/// The `listing` every job record carries (see [`JobRecord::listing`]).
pub fn job_listing() -> String {
    "job".to_owned()
}

/// A position in the list of recent jobs: the last job of a page (its creation time and id).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListCursor {
    pub created_at: String,
    pub job_id: JobId,
}

impl ListCursor {
    /// `<created_at>~<job_id>`, as it travels in a URL's query string.
    pub fn encode(&self) -> String {
        format!("{}~{}", self.created_at, self.job_id)
    }

    pub fn decode(text: &str) -> Option<Self> {
        let (created_at, job_id) = text.rsplit_once('~')?;
        let well_formed = created_at.len() <= 40
            && created_at
                .bytes()
                .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z'));
        Some(Self {
            created_at: well_formed.then(|| created_at.to_owned())?,
            job_id: JobId::parse(job_id)?,
        })
    }
}

/// Who cancelled a job, and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Cancellation {
    /// The caller's identity as API Gateway saw it (IAM user or role ARN), else "anonymous".
    pub by: String,
    pub at: String,
}

/// Whether a job's Slack message went out (shown by `GET /jobs/{id}`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Notification {
    pub state: NotificationState,
    pub attempts: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_error: Option<String>,
    /// What was (or was to be) sent: `failure`, `success`, `rejection`.
    pub kind: String,
    pub at: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum NotificationState {
    Delivered,
    Undelivered,
    /// Part of a summary of failures sharing one cause (see `notification::fold_signature`).
    Folded,
}

/// The item kept per job in the jobs table (partition key `job_id`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobRecord {
    pub job_id: JobId,
    pub status: JobStatus,
    pub history: Vec<StatusChange>,
    pub source: JobSource,
    pub created_at: String,
    pub updated_at: String,
    /// Partition key of the jobs table's `RecentIndex` (sorted by `created_at`): every job has
    /// the same, so the newest jobs come first in one query.
    #[serde(default = "job_listing")]
    pub listing: String,
    /// Name given in the form; absent for a form too broken to read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form: Option<JobForm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub form_digest: Option<String>,
    /// Every validation problem of a REJECTED form.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<FormProblem>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failure: Option<JobFailure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepared: Option<Prepared>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery: Option<Delivery>,
    /// Whether the job's Slack message went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<Notification>,
    /// Numbers later steps fill in (users scored, rows imported, ...).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Every AWS resource the job launched or reused, by name: what to look at in the console.
    #[serde(default)]
    pub resources: BTreeMap<String, LaunchedResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
    /// The quality gate's verdict on the job's version, once Deliver measured it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateOutcome>,
    /// Why a `SKIPPED` job never ran.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub skipped: Option<Skipped>,
    /// The versions of the data files Prepare read (ETag, version id, size).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub data_versions: Vec<crate::data_version::DataVersion>,
    /// A schedule's or trigger's job: the jobs it started before this one, newest first, of
    /// which Prepare compares the newest that succeeded (see `crate::unchanged`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub earlier_runs: Vec<JobId>,
    /// The job that retried this one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retried_by: Option<JobId>,
    /// The version this job made current, set in the same transaction as the result set's
    /// pointer: from then on its version serves, and the job can no longer be cancelled.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub made_current: Option<String>,
}

impl JobRecord {
    /// The job this one retries.
    pub fn retry_of(&self) -> Option<&JobId> {
        match &self.source {
            JobSource::Retry { retry_of, .. } => Some(retry_of),
            _ => None,
        }
    }

    /// When the job entered its current status.
    pub fn status_since(&self) -> &str {
        self.history
            .last()
            .map(|c| c.at.as_str())
            .unwrap_or(&self.updated_at)
    }

    /// A record for a job that passed validation, already QUEUED for its execution.
    pub fn queued(job_id: JobId, source: JobSource, form: JobForm, form_digest: String, now: &str) -> Self {
        Self::valid(job_id, source, form, form_digest, now).with_change(
            JobStatus::Queued,
            now,
            "form valid; execution requested",
        )
    }

    /// A record for a schedule's firing that waits QUEUED, without an execution, for the
    /// schedule's previous job to end (`overlap: queue`); `detail` names that job.
    pub fn waiting(
        job_id: JobId,
        source: JobSource,
        form: JobForm,
        form_digest: String,
        now: &str,
        detail: &str,
    ) -> Self {
        Self::valid(job_id, source, form, form_digest, now).with_change(JobStatus::Queued, now, detail)
    }

    /// A record for a valid form that is never run: SKIPPED, saying why.
    pub fn skipped(
        job_id: JobId,
        source: JobSource,
        form: JobForm,
        form_digest: String,
        now: &str,
        skipped: Skipped,
    ) -> Self {
        let detail = skipped.reason.clone();
        Self {
            skipped: Some(skipped),
            ..Self::valid(job_id, source, form, form_digest, now)
        }
        .with_change(JobStatus::Skipped, now, &detail)
    }

    fn valid(job_id: JobId, source: JobSource, form: JobForm, form_digest: String, now: &str) -> Self {
        Self {
            job_name: Some(form.job_name.clone()),
            form: Some(form),
            form_digest: Some(form_digest),
            problems: Vec::new(),
            ..Self::received(job_id, source, now)
        }
    }

    /// A record for a form that failed validation: REJECTED with every problem.
    pub fn rejected(
        job_id: JobId,
        source: JobSource,
        job_name: Option<String>,
        problems: Vec<FormProblem>,
        now: &str,
    ) -> Self {
        let detail = format!("{} problem(s) in the form", problems.len());
        Self {
            job_name,
            problems,
            ..Self::received(job_id, source, now)
        }
        .with_change(JobStatus::Rejected, now, &detail)
    }

    fn received(job_id: JobId, source: JobSource, now: &str) -> Self {
        Self {
            listing: job_listing(),
            job_id,
            status: JobStatus::Received,
            history: vec![StatusChange {
                status: JobStatus::Received,
                at: now.to_owned(),
                detail: String::new(),
            }],
            source,
            created_at: now.to_owned(),
            updated_at: now.to_owned(),
            job_name: None,
            form: None,
            form_digest: None,
            problems: Vec::new(),
            execution_arn: None,
            failure: None,
            prepared: None,
            delivery: None,
            notification: None,
            counts: BTreeMap::new(),
            resources: BTreeMap::new(),
            cancellation: None,
            gate: None,
            skipped: None,
            data_versions: Vec::new(),
            earlier_runs: Vec::new(),
            retried_by: None,
            made_current: None,
        }
    }

    fn with_change(mut self, status: JobStatus, now: &str, detail: &str) -> Self {
        self.status = status;
        self.updated_at = now.to_owned();
        self.history.push(StatusChange {
            status,
            at: now.to_owned(),
            detail: detail.to_owned(),
        });
        self
    }
}
