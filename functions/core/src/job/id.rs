//! Job ids: also the Step Functions execution names, derived so that a repeated submission
//! gets the same id.

use std::fmt;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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

pub(crate) const HASH_CHARS: usize = 20;
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

    /// Id of the job a schedule's firing starts: the same schedule and scheduled time always
    /// give the same id, so a firing delivered twice starts one job. The time (UTC, to the
    /// second) is kept readable: `nightly-20261201t030000z-<hash>`.
    pub fn for_firing(job_name: &str, schedule_id: &str, scheduled_time: jiff::Timestamp) -> Self {
        let time = scheduled_time.strftime("%Y%m%dt%H%M%Sz").to_string();
        let digest = hex_digest(&["schedule", schedule_id, &time]);
        Self(format!(
            "{}-{time}-{}",
            readable_stem(job_name),
            &digest[..HASH_CHARS]
        ))
    }

    /// Id of the job a trigger starts: the same trigger and data versions always give the
    /// same id, so a replayed S3 event (or a check repeated) starts one job. `versions` are
    /// each file's URI and version (its version id, else its ETag).
    pub fn for_trigger(job_name: &str, trigger_id: &str, versions: &[(&str, &str)]) -> Self {
        let mut parts = vec!["trigger", trigger_id];
        for (uri, version) in versions {
            parts.extend([*uri, *version]);
        }
        Self::from_stem_and_digest(job_name, &hex_digest(&parts))
    }

    /// Id of a retry of `job_id` from `from_phase`: asking again for the same retry starts
    /// nothing new (`<job_name>-retry-<hash>`).
    pub fn for_retry(job_name: &str, job_id: &JobId, from_phase: &str) -> Self {
        let digest = hex_digest(&["retry", job_id.as_str(), from_phase]);
        Self(format!(
            "{}-retry-{}",
            readable_stem(job_name),
            &digest[..HASH_CHARS]
        ))
    }

    fn from_stem_and_digest(stem: &str, digest: &str) -> Self {
        Self(format!("{}-{}", readable_stem(stem), &digest[..HASH_CHARS]))
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

/// The readable start of an id: lower-case letters and digits, other characters as `-`, at
/// most 40 characters, `form` if nothing is left.
pub(crate) fn readable_stem(stem: &str) -> String {
    let readable: String = stem
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
    let readable = readable.trim_matches('-');
    if readable.is_empty() {
        "form".to_owned()
    } else {
        readable.to_owned()
    }
}

pub(crate) fn hex_digest(parts: &[&str]) -> String {
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
