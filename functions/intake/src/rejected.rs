//! A refused form: its job is recorded REJECTED with every problem, and the form is moved to
//! `rejected/` with a report beside it (whose arrival tells Slack, through notify).

use recoflow_core::errors::ServiceError;
use recoflow_core::forms_bucket::{rejected_key, report_key, RejectionReport};
use recoflow_core::job::JobRecord;
use recoflow_core::ports::{Clock, JobStore, ObjectStore};
use recoflow_core::validation::FormProblem;
use tracing::info;

use crate::ports::IntakePorts;
use crate::submission::{Outcome, Submission};

/// Records the job REJECTED and moves the form to `rejected/` with an `.errors.json` report
/// beside it. Order matters: the copy and report exist before the original is deleted.
pub async fn reject<P: IntakePorts>(
    ports: &P,
    submission: &Submission,
    job_name: Option<String>,
    problems: Vec<FormProblem>,
) -> Result<Outcome, ServiceError> {
    let rejected_key = rejected_key(&submission.key);
    let now = ports.clock().rfc3339_now();
    let count = problems.len();
    // The record first: the report's arrival under rejected/ is what tells Slack (notify reads
    // the job from it). Then the report and the copy, and only then is the original deleted.
    let record = JobRecord::rejected(
        submission.job_id.clone(),
        submission.source.clone(),
        job_name,
        problems.clone(),
        &now,
    );
    ports.jobs().create(&record).await?;
    let report = RejectionReport {
        job_id: submission.job_id.clone(),
        form: submission.uri(),
        rejected_at: now,
        problems,
    };
    let report_body = serde_json::to_vec_pretty(&report).unwrap_or_default();
    let objects = ports.objects();
    objects
        .put(
            &submission.bucket,
            &report_key(&rejected_key),
            report_body,
            "application/json",
        )
        .await?;
    objects
        .copy(
            &submission.bucket,
            &submission.key,
            submission.version_id.as_deref(),
            &rejected_key,
        )
        .await?;
    objects.delete(&submission.bucket, &submission.key).await?;
    info!(problems = count, rejected_key = %rejected_key, "form rejected");
    Ok(Outcome::Rejected {
        job_id: submission.job_id.to_string(),
        problems: count,
    })
}

/// The job name of a rejected form, when it has a readable one, so the record is findable.
pub fn readable_job_name(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let name = value.get("job_name")?.as_str()?;
    (name.len() <= 48).then(|| name.to_owned())
}
