//! One submitted object, and what became of it.

use recoflow_core::job::{JobId, JobSource};
use serde::Serialize;

/// A form object under `submissions/`, and the job it is.
pub struct Submission {
    pub bucket: String,
    pub key: String,
    /// The object version the event names (versioned bucket), read even if the key was
    /// overwritten since.
    pub version_id: Option<String>,
    pub job_id: JobId,
    pub source: JobSource,
}

impl Submission {
    /// `s3://<bucket>/<key>`.
    pub fn uri(&self) -> String {
        format!("s3://{}/{}", self.bucket, self.key)
    }
}

/// What happened to one submitted object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Started {
        job_id: String,
    },
    /// A recurring form: its schedule was made (its firings start the jobs).
    Scheduled {
        schedule_id: String,
    },
    /// A data-driven form: its trigger was made (new data starts the jobs).
    Triggered {
        trigger_id: String,
    },
    /// The same object was seen before; nothing new was started.
    Duplicate {
        job_id: String,
    },
    Rejected {
        job_id: String,
        problems: usize,
    },
    /// Not a form (outside `submissions/`, a folder marker) or already gone.
    Ignored {
        key: String,
        reason: String,
    },
}
