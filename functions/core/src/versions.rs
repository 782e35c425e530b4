//! Versions of a result set beside its pointer: what each version is (metrics, gate outcome,
//! who promoted it), and an entry per result set for listing them. The pointer
//! (`delivery::keys::pointer`) stays the single switch; a version's state is derived from it
//! and from its own record, never stored twice.

use serde::{Deserialize, Serialize};

use crate::job::{JobId, JobStatus};
use crate::quality::{GateOutcome, VersionMetrics};

/// How long a version's record outlives its lists (so an expired version still shows as such).
pub const RECORD_OUTLIVES_LISTS_SECONDS: i64 = 90 * 86_400;
/// The `listing` value of result-set entries (partition key of the `ResultSetIndex`).
pub const RESULT_SET_LISTING: &str = "result-set";

/// Keys of the recommendations table for versions and result-set entries.
pub mod keys {
    /// A version's record.
    pub fn version(result_set: &str, version: &str) -> String {
        format!("v#{result_set}#{version}")
    }

    /// A result set's entry (listing, last job, freshness).
    pub fn result_set_entry(result_set: &str) -> String {
        format!("rse#{result_set}")
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, strum::Display, strum::EnumString)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
#[strum(serialize_all = "SCREAMING_SNAKE_CASE")]
pub enum VersionState {
    Current,
    Held,
    Superseded,
    Discarded,
    Expired,
}

/// Who did something to a version, when and why.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    pub by: String,
    pub at: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A version's record (`v#<result set>#<version>`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VersionRecord {
    pub pk: String,
    /// The result set (partition key of the `VersionIndex`).
    pub version_of: String,
    pub version: String,
    pub job_id: JobId,
    /// The job's submission time (versions are ordered by it).
    pub created_at: String,
    /// When its lists were all written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_at: Option<String>,
    /// When it was first made current.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub published_at: Option<String>,
    /// Held back by the quality gate.
    #[serde(default)]
    pub held: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<VersionMetrics>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateOutcome>,
    /// The last promotion (or rollback to it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub promoted: Option<Decision>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub discarded: Option<Decision>,
    /// Unix seconds its lists expire (the table's TTL on the lists).
    pub version_expires_at: i64,
    /// The form's banned items (its pointer carries them when it is made current).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_items: Vec<String>,
    /// Unix seconds this record expires (the table's TTL attribute).
    pub expires_at: i64,
}

impl VersionRecord {
    /// The version's state, given the version the pointer names and the time now.
    pub fn state(&self, current: Option<&str>, now_unix: i64) -> VersionState {
        if current == Some(self.version.as_str()) {
            VersionState::Current
        } else if self.discarded.is_some() {
            VersionState::Discarded
        } else if self.version_expires_at <= now_unix {
            VersionState::Expired
        } else if self.held && self.published_at.is_none() {
            VersionState::Held
        } else {
            VersionState::Superseded
        }
    }
}

/// A result set's last job, as its entry shows it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LastJob {
    pub job_id: JobId,
    pub status: JobStatus,
}

/// A result set's entry (`rse#<result set>`), for `GET /result-sets` and freshness alerts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResultSetEntry {
    pub pk: String,
    /// Always [`RESULT_SET_LISTING`] (partition key of the `ResultSetIndex`).
    pub listing: String,
    pub result_set: String,
    pub last_job: LastJob,
    /// From the last job's form.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_refresh_hours: Option<f64>,
    /// The current version a staleness alert went out for (one alert until a newer version).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stale_alert_for: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(held: bool, published: bool, discarded: bool, expires: i64) -> VersionRecord {
        VersionRecord {
            pk: keys::version("spring", "v1"),
            version_of: "spring".into(),
            version: "v1".into(),
            job_id: JobId::parse("j-1").unwrap(),
            created_at: "2026-12-01T00:00:00.000Z".into(),
            written_at: None,
            published_at: published.then(|| "2026-12-01T01:00:00.000Z".into()),
            held,
            metrics: None,
            gate: None,
            promoted: None,
            discarded: discarded.then(|| Decision {
                by: "ana".into(),
                at: "2026-12-01T02:00:00.000Z".into(),
                reason: None,
            }),
            version_expires_at: expires,
            excluded_items: Vec::new(),
            expires_at: expires + RECORD_OUTLIVES_LISTS_SECONDS,
        }
    }

    #[test]
    fn a_version_s_state_follows_the_pointer_and_its_record() {
        let now = 1_000;
        assert_eq!(
            record(false, true, false, 2_000).state(Some("v1"), now),
            VersionState::Current
        );
        assert_eq!(
            record(true, false, false, 2_000).state(Some("v2"), now),
            VersionState::Held
        );
        assert_eq!(
            record(true, false, false, 2_000).state(Some("v1"), now),
            VersionState::Current,
            "promoted"
        );
        assert_eq!(
            record(true, true, false, 2_000).state(None, now),
            VersionState::Superseded,
            "promoted, then rolled back"
        );
        assert_eq!(
            record(false, true, false, 2_000).state(Some("v2"), now),
            VersionState::Superseded
        );
        assert_eq!(
            record(true, false, true, 2_000).state(Some("v2"), now),
            VersionState::Discarded
        );
        assert_eq!(
            record(false, true, false, 900).state(Some("v2"), now),
            VersionState::Expired
        );
        assert_eq!(VersionState::Superseded.to_string(), "SUPERSEDED");
    }
}
