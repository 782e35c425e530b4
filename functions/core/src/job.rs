//! Jobs: their ids, their status life cycle and the record kept in the jobs table.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::form::JobForm;
use crate::phase::LaunchedResource;
use crate::validation::FormProblem;

/// A job id; also the Step Functions execution name, so it keeps to that name's rules:
/// 1-80 characters of `[A-Za-z0-9_-]`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct JobId(String);

impl TryFrom<String> for JobId {
    type Error = String;

    fn try_from(id: String) -> Result<Self, Self::Error> {
        Self::parse(&id).ok_or_else(|| format!("{id:?} is not a job id (1-80 of A-Z a-z 0-9 - _)"))
    }
}

impl From<JobId> for String {
    fn from(id: JobId) -> Self {
        id.0
    }
}

const HASH_CHARS: usize = 20;
const MAX_STEM_CHARS: usize = 40;

impl JobId {
    /// Id of a form dropped in S3. The same object version always gives the same id, so a
    /// duplicated S3 event can never start a second run. `version` is the object's version id
    /// when the bucket is versioned, else its ETag.
    pub fn for_s3_object(bucket: &str, key: &str, version: &str) -> Self {
        let file_name = key.rsplit('/').next().unwrap_or(key);
        let stem = file_name.strip_suffix(".json").unwrap_or(file_name);
        let digest = hex_digest(&["s3", bucket, key, version]);
        Self::from_stem_and_digest(stem, &digest)
    }

    /// Id of an API submission carrying an `Idempotency-Key`: the same key gives the same id.
    pub fn for_idempotency_key(key: &str) -> Self {
        Self::from_stem_and_digest("api", &hex_digest(&["api", key]))
    }

    /// Id of an API submission without an idempotency key.
    pub fn for_api_request(unique: &str) -> Self {
        Self::from_stem_and_digest("api", &hex_digest(&["api-request", unique]))
    }

    fn from_stem_and_digest(stem: &str, digest: &str) -> Self {
        let mut readable: String = stem
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .take(MAX_STEM_CHARS)
            .collect();
        readable = readable.trim_matches('-').to_owned();
        if readable.is_empty() {
            readable.push_str("form");
        }
        Self(format!("{readable}-{}", &digest[..HASH_CHARS]))
    }

    /// Accepts an id from a URL path, refusing anything that cannot be a job id.
    pub fn parse(id: &str) -> Option<Self> {
        let valid = (1..=80).contains(&id.len())
            && id
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        valid.then(|| Self(id.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for JobId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

fn hex_digest(parts: &[&str]) -> String {
    let mut hasher = Sha256::new();
    for part in parts {
        // Length-prefixed so ("ab","c") and ("a","bc") differ.
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 of a form body, kept to tell an idempotent retry from a reused key.
pub fn form_digest(body: &[u8]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(body);
    hasher.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
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
    Failed,
    Cancelled,
}

impl JobStatus {
    pub const ALL: [JobStatus; 12] = [
        JobStatus::Received,
        JobStatus::Rejected,
        JobStatus::Queued,
        JobStatus::WaitingForQuota,
        JobStatus::Preparing,
        JobStatus::Training,
        JobStatus::Scoring,
        JobStatus::Importing,
        JobStatus::Delivering,
        JobStatus::Succeeded,
        JobStatus::Failed,
        JobStatus::Cancelled,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            JobStatus::Received => "RECEIVED",
            JobStatus::Rejected => "REJECTED",
            JobStatus::Queued => "QUEUED",
            JobStatus::WaitingForQuota => "WAITING_FOR_QUOTA",
            JobStatus::Preparing => "PREPARING",
            JobStatus::Training => "TRAINING",
            JobStatus::Scoring => "SCORING",
            JobStatus::Importing => "IMPORTING",
            JobStatus::Delivering => "DELIVERING",
            JobStatus::Succeeded => "SUCCEEDED",
            JobStatus::Failed => "FAILED",
            JobStatus::Cancelled => "CANCELLED",
        }
    }

    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Rejected | JobStatus::Cancelled
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
            Scoring => &[Training, WaitingForQuota],
            Delivering => &[Scoring],
            Succeeded => &[Delivering],
            Failed | Cancelled => &RUNNING,
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

impl fmt::Display for JobStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One step of a job's life: what it became, when, and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusChange {
    pub status: JobStatus,
    /// RFC 3339, UTC.
    pub at: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub detail: String,
}

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
}

/// Why a job failed, as the state machine's Catch reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobFailure {
    /// Stable error name, e.g. `DatasetMissing`, `JobFailed`.
    pub error: String,
    pub cause: String,
    /// State where it happened, e.g. `Prepare`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
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

/// What Prepare found and wrote: the launch steps build on it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Prepared {
    pub files: Vec<PreparedFile>,
    /// JSON lines `{"userId": "…"}` of the users to score (the form's segment).
    pub scoring_input: String,
    pub users_to_score: u64,
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
    pub delivery: Option<crate::delivery::Delivery>,
    /// Whether the job's Slack message went out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notification: Option<crate::notification::Notification>,
    /// Numbers later steps fill in (users scored, rows imported, ...).
    #[serde(default)]
    pub counts: BTreeMap<String, u64>,
    /// Every AWS resource the job launched or reused, by name: what to look at in the console.
    #[serde(default)]
    pub resources: BTreeMap<String, LaunchedResource>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cancellation: Option<Cancellation>,
}

impl JobRecord {
    /// A record for a job that passed validation, already QUEUED for its execution.
    pub fn queued(job_id: JobId, source: JobSource, form: JobForm, form_digest: String, now: &str) -> Self {
        Self {
            job_name: Some(form.job_name.clone()),
            form: Some(form),
            form_digest: Some(form_digest),
            problems: Vec::new(),
            ..Self::received(job_id, source, now)
        }
        .with_change(JobStatus::Queued, now, "form valid; execution requested")
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

/// Current time as RFC 3339 UTC with milliseconds.
pub fn now_rfc3339() -> String {
    let now = time::OffsetDateTime::now_utc();
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    now.format(&format)
        .unwrap_or_else(|_| now.unix_timestamp().to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn s3_job_ids_are_deterministic_and_valid_execution_names() {
        let a = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-1");
        let b = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-1");
        let c = JobId::for_s3_object("forms", "submissions/Spring Tokyo (v2).json", "etag-2");
        assert_eq!(a, b);
        assert_ne!(a, c);
        assert!(a.as_str().starts_with("spring-tokyo--v2-"), "{a}");
        assert!(JobId::parse(a.as_str()).is_some());
    }

    #[test]
    fn long_and_odd_names_still_give_valid_ids() {
        let key = format!("submissions/{}.json", "é".repeat(200));
        let id = JobId::for_s3_object("forms", &key, "v");
        assert!(id.as_str().len() <= 80);
        assert!(JobId::parse(id.as_str()).is_some());
        assert!(JobId::for_idempotency_key("client key / 42")
            .as_str()
            .starts_with("api-"));
    }

    #[test]
    fn parse_refuses_non_ids() {
        for bad in ["", "a/b", "job id", &"x".repeat(81), "../etc"] {
            assert!(JobId::parse(bad).is_none(), "{bad:?}");
        }
    }

    #[test]
    fn terminal_statuses_never_move_on() {
        for from in JobStatus::ALL.into_iter().filter(|s| s.is_terminal()) {
            assert!(!from.is_running());
            for to in JobStatus::ALL {
                assert!(!from.can_move_to(to), "{from} -> {to} must be refused");
            }
        }
        assert!(!JobStatus::Succeeded.can_move_to(JobStatus::Training));
        assert!(JobStatus::Queued.can_move_to(JobStatus::Preparing));
        assert!(JobStatus::Training.can_move_to(JobStatus::Failed));
    }

    #[test]
    fn status_names_match_serde() {
        for status in JobStatus::ALL {
            assert_eq!(serde_json::to_value(status).unwrap(), status.as_str());
        }
    }
}
