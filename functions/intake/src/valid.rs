//! A valid form: its job is written QUEUED and its execution started, through the one submit
//! path the API uses too.

use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::{form_digest, JobRecord};
use recoflow_core::ports::Clock;
use recoflow_core::submit::{submit, SubmitError, Submitted};

use crate::ports::IntakePorts;
use crate::submission::{Outcome, Submission};

/// Writes the QUEUED record (if new) and starts the execution named by the job id.
pub async fn accept<P: IntakePorts>(
    ports: &P,
    submission: &Submission,
    form: JobForm,
    body: &[u8],
) -> Result<Outcome, ServiceError> {
    let record = JobRecord::queued(
        submission.job_id.clone(),
        submission.source.clone(),
        form,
        form_digest(body),
        &ports.clock().rfc3339_now(),
    );
    let job_id = submission.job_id.to_string();
    match submit(ports.jobs(), ports.executions(), &record).await {
        Ok(Submitted::Started) => Ok(Outcome::Started { job_id }),
        // The same object version always has the same bytes, so a conflict is a duplicate too.
        Ok(Submitted::Duplicate { .. } | Submitted::Conflict) => Ok(Outcome::Duplicate { job_id }),
        Err(SubmitError::Record(err) | SubmitError::Execution(err)) => Err(err),
    }
}
