//! What clients see of result sets and their versions. Allow-lists, as for jobs: a field added
//! to a record stays internal until it is named here.

use recoflow_core::clock::rfc3339;
use recoflow_core::delivery::Pointer;
use recoflow_core::form::Output;
use recoflow_core::job::JobId;
use recoflow_core::quality::{GateOutcome, VersionMetrics};
use recoflow_core::versions::{Decision, LastJob, ResultSetEntry, VersionRecord, VersionState};
use serde::Serialize;

/// A version (`GET /result-sets/{rs}`, and the answer of a promote, rollback or discard).
#[derive(Serialize)]
pub struct VersionView<'a> {
    version: &'a str,
    state: VersionState,
    job_id: &'a JobId,
    /// The job's submission (versions are ordered by it).
    created_at: &'a str,
    /// When it was first made current; none for a version never served.
    published_at: Option<&'a str>,
    /// When its lists expire (then it is `EXPIRED`).
    expires_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    metrics: Option<&'a VersionMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<&'a GateOutcome>,
    /// The last promotion or rollback to this version.
    promoted_by: Option<&'a str>,
    promoted_at: Option<&'a str>,
    reason: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    discarded: Option<DiscardView<'a>>,
}

#[derive(Serialize)]
struct DiscardView<'a> {
    by: &'a str,
    at: &'a str,
}

impl<'a> VersionView<'a> {
    /// The view of `record` while the pointer names `current`, at `now_unix`.
    pub fn of(record: &'a VersionRecord, current: Option<&str>, now_unix: i64) -> Self {
        let promoted = record.promoted.as_ref();
        Self {
            version: &record.version,
            state: record.state(current, now_unix),
            job_id: &record.job_id,
            created_at: &record.created_at,
            published_at: record.published_at.as_deref(),
            expires_at: unix_rfc3339(record.version_expires_at),
            metrics: record.metrics.as_ref(),
            gate: record.gate.as_ref(),
            promoted_by: promoted.map(|p| p.by.as_str()),
            promoted_at: promoted.map(|p| p.at.as_str()),
            reason: promoted.and_then(|p| p.reason.as_deref()),
            discarded: record
                .discarded
                .as_ref()
                .map(|Decision { by, at, .. }| DiscardView { by, at }),
        }
    }
}

fn unix_rfc3339(unix: i64) -> String {
    time::OffsetDateTime::from_unix_timestamp(unix)
        .map(rfc3339)
        .unwrap_or_else(|_| unix.to_string())
}

/// What the pointer says of the version it serves.
#[derive(Serialize)]
pub struct CurrentView<'a> {
    current_version: Option<&'a str>,
    /// The version current before it (where a rollback returns to).
    previous_version: Option<&'a str>,
    published_at: Option<&'a str>,
    /// Seconds since the current version was first made current.
    version_age_seconds: Option<u64>,
    /// What the current version holds (its form's `output`): the route that serves it.
    output: Option<Output>,
}

impl<'a> CurrentView<'a> {
    /// `age` of a time stamp: the clock's seconds since it.
    pub fn of(pointer: Option<&'a Pointer>, age: impl Fn(&str) -> u64) -> Self {
        Self {
            current_version: pointer.map(|p| p.version.as_str()),
            previous_version: pointer.and_then(|p| p.previous_version.as_deref()),
            published_at: pointer.map(|p| p.published_at.as_str()),
            version_age_seconds: pointer.map(|p| age(&p.published_at)),
            output: pointer.map(|p| p.output),
        }
    }
}

/// A result set in the list (`GET /result-sets`).
#[derive(Serialize)]
pub struct ResultSetSummary<'a> {
    result_set: &'a str,
    #[serde(flatten)]
    current: CurrentView<'a>,
    last_job: Option<&'a LastJob>,
    #[serde(skip_serializing_if = "Option::is_none")]
    expect_refresh_hours: Option<f64>,
}

impl<'a> ResultSetSummary<'a> {
    pub fn of(result_set: &'a str, entry: Option<&'a ResultSetEntry>, current: CurrentView<'a>) -> Self {
        Self {
            result_set,
            current,
            last_job: entry.map(|e| &e.last_job),
            expect_refresh_hours: entry.and_then(|e| e.expect_refresh_hours),
        }
    }
}
