//! The forms bucket's layout, shared by intake (which reads forms under `submissions/` and moves
//! a refused one to `rejected/` with a report beside it) and notify (which tells Slack when such
//! a report appears). The template's S3 notification filters name the same prefixes.

use serde::{Deserialize, Serialize};

use crate::job::JobId;
use crate::validation::FormProblem;

/// Where forms are dropped to become jobs.
pub const SUBMISSIONS_PREFIX: &str = "submissions/";
/// Where a refused form is moved, its report beside it.
pub const REJECTED_PREFIX: &str = "rejected/";
/// A rejection report's key is the rejected form's key with this suffix.
pub const REPORT_SUFFIX: &str = ".errors.json";

/// Where a refused form goes: its key with `rejected/` in place of `submissions/`.
pub fn rejected_key(submission_key: &str) -> String {
    let name = submission_key
        .strip_prefix(SUBMISSIONS_PREFIX)
        .unwrap_or(submission_key);
    format!("{REJECTED_PREFIX}{name}")
}

/// The key of the report beside a rejected form.
pub fn report_key(rejected_key: &str) -> String {
    format!("{rejected_key}{REPORT_SUFFIX}")
}

/// Whether a key of the forms bucket is a rejection report.
pub fn is_rejection_report(key: &str) -> bool {
    key.starts_with(REJECTED_PREFIX) && key.ends_with(REPORT_SUFFIX)
}

/// What intake writes beside a refused form, and notify reads to tell its submitter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RejectionReport {
    pub job_id: JobId,
    /// The form as it was submitted: `s3://<forms bucket>/submissions/…`.
    pub form: String,
    #[serde(default)]
    pub rejected_at: String,
    pub problems: Vec<FormProblem>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_form_and_its_report_sit_under_rejected() {
        let moved = rejected_key("submissions/team/bad.json");
        assert_eq!(moved, "rejected/team/bad.json");
        assert_eq!(report_key(&moved), "rejected/team/bad.json.errors.json");
        assert!(is_rejection_report(&report_key(&moved)));
        assert!(!is_rejection_report(&moved), "the form itself is no report");
        assert!(!is_rejection_report("submissions/x.errors.json"));
    }
}
