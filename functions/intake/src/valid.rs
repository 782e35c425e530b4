//! A valid form goes through the one submit path the API uses too: its job is written QUEUED
//! and its execution started, or, for a recurring form, its schedule is made (for a
//! data-driven one, its trigger). A schedule block
//! that only the moment of submission finds wrong (a start long past) is rejected like any
//! other problem.

use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::form_digest;
use recoflow_core::schedule::create::{ScheduleError, ScheduleSubmitted};
use recoflow_core::submit::{
    submit_form, FormSubmission, FormSubmitError, FormSubmitted, SubmitError, Submitted,
};
use recoflow_core::trigger::create::TriggerSubmitted;

use crate::ports::IntakePorts;
use crate::rejected::reject;
use crate::submission::{Outcome, Submission};

pub async fn accept<P: IntakePorts>(
    ports: &P,
    submission: &Submission,
    form: JobForm,
    body: &[u8],
) -> Result<Outcome, ServiceError> {
    let job_name = form.job_name.clone();
    let submitted = submit_form(
        ports,
        FormSubmission {
            job_id: submission.job_id.clone(),
            source: submission.source.clone(),
            form,
            form_digest: form_digest(body),
        },
    )
    .await;
    let job_id = submission.job_id.to_string();
    match submitted {
        Ok(FormSubmitted::Job(Submitted::Started)) => Ok(Outcome::Started { job_id }),
        // The same object version always has the same bytes, so a conflict is a duplicate too.
        Ok(FormSubmitted::Job(Submitted::Duplicate { .. } | Submitted::Conflict)) => {
            Ok(Outcome::Duplicate { job_id })
        }
        Ok(FormSubmitted::Schedule { schedule_id, outcome }) => Ok(match outcome {
            ScheduleSubmitted::Created { .. } => Outcome::Scheduled {
                schedule_id: schedule_id.to_string(),
            },
            ScheduleSubmitted::Duplicate { .. } | ScheduleSubmitted::Conflict => Outcome::Duplicate {
                job_id: schedule_id.to_string(),
            },
        }),
        Ok(FormSubmitted::Trigger { trigger_id, outcome }) => Ok(match outcome {
            TriggerSubmitted::Created => Outcome::Triggered {
                trigger_id: trigger_id.to_string(),
            },
            TriggerSubmitted::Duplicate | TriggerSubmitted::Conflict => Outcome::Duplicate {
                job_id: trigger_id.to_string(),
            },
        }),
        Err(FormSubmitError::Schedule(ScheduleError::Invalid(problems))) => {
            reject(ports, submission, Some(job_name), problems).await
        }
        Err(FormSubmitError::Job(SubmitError::Record(err) | SubmitError::Execution(err)))
        | Err(FormSubmitError::Schedule(ScheduleError::Record(err) | ScheduleError::Scheduler(err)))
        | Err(FormSubmitError::Trigger(err)) => Err(err),
    }
}
