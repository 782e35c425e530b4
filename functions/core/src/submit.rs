//! Submitting a valid form: one path for intake (S3) and the API, so both treat duplicates,
//! replays and half-finished submissions alike. A form with a `schedule` block becomes a
//! schedule ([`crate::schedule::create`]), one with a `trigger` block a trigger
//! ([`crate::trigger::create`]); any other, a job ([`submit`], which a schedule's firings, a
//! trigger's checks and retries use too).

use tracing::info;

use crate::errors::ServiceError;
use crate::form::JobForm;
use crate::job::{JobId, JobRecord, JobSource, JobStatus};
use crate::ports::{Clock, Created, ExecutionStart, Executions, JobPatch, JobStore};
use crate::schedule::create::{create_schedule, timely_problems, ScheduleError, ScheduleSubmitted};
use crate::schedule::firing::FiringPorts;
use crate::schedule::ports::Scheduler;
use crate::schedule::{ScheduleId, ScheduleRecord};
use crate::task::JobTask;
use crate::trigger::create::{register_trigger, TriggerSubmitted};
use crate::trigger::{TriggerId, TriggerRecord};

/// What submitting a form needs: what starting a job needs, and the Scheduler for recurring
/// forms.
pub trait SubmitPorts: FiringPorts {
    type Scheduler: Scheduler;
    fn scheduler(&self) -> &Self::Scheduler;
}

/// A valid form, where it came from, and the id its job gets (its schedule's id derives from it).
#[derive(Debug, Clone)]
pub struct FormSubmission {
    pub job_id: JobId,
    pub source: JobSource,
    pub form: JobForm,
    pub form_digest: String,
}

/// What a submitted form became.
#[derive(Debug, Clone, PartialEq)]
pub enum FormSubmitted {
    Job(Submitted),
    Schedule {
        schedule_id: ScheduleId,
        outcome: ScheduleSubmitted,
    },
    Trigger {
        trigger_id: TriggerId,
        outcome: TriggerSubmitted,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum FormSubmitError {
    #[error(transparent)]
    Job(#[from] SubmitError),
    #[error(transparent)]
    Schedule(#[from] ScheduleError),
    /// The trigger's record or its watched files could not be written; a retry finishes it.
    #[error(transparent)]
    Trigger(ServiceError),
}

/// The one submit path: a recurring form becomes a schedule, a data-driven one a trigger, any
/// other a job.
pub async fn submit_form<P: SubmitPorts>(
    ports: &P,
    submission: FormSubmission,
) -> Result<FormSubmitted, FormSubmitError> {
    let FormSubmission {
        job_id,
        source,
        form,
        form_digest,
    } = submission;
    let now = ports.clock().rfc3339_now();
    if form.trigger.is_some() {
        let trigger_id = TriggerId::for_submission(&form.job_name, &job_id);
        let unix_now = ports.clock().unix_now();
        let record = TriggerRecord::new(trigger_id.clone(), form, form_digest, source, &now, unix_now);
        let outcome = register_trigger(ports.triggers(), &record)
            .await
            .map_err(FormSubmitError::Trigger)?;
        info!(trigger_id = %trigger_id, ?outcome, "data-driven form submitted");
        return Ok(FormSubmitted::Trigger { trigger_id, outcome });
    }
    if form.schedule.is_none() {
        let record = JobRecord::queued(job_id, source, form, form_digest, &now);
        return Ok(FormSubmitted::Job(
            submit(ports.jobs(), ports.executions(), &record).await?,
        ));
    }
    let schedule_id = ScheduleId::for_submission(&form.job_name, &job_id);
    let record = ScheduleRecord::new(schedule_id.clone(), form, form_digest, source, &now);
    let instant = crate::schedule::instant_now(ports.clock());
    let problems = timely_problems(&record, instant);
    if !problems.is_empty() {
        return Err(ScheduleError::Invalid(problems).into());
    }
    let outcome = create_schedule(ports.schedules(), ports.scheduler(), &record, instant).await?;
    info!(schedule_id = %schedule_id, ?outcome, "recurring form submitted");
    Ok(FormSubmitted::Schedule { schedule_id, outcome })
}

#[derive(Debug, Clone, PartialEq)]
pub enum Submitted {
    /// A new job, QUEUED, its execution started.
    Started,
    /// The same job was submitted before (same S3 object version, or same idempotency key and
    /// form); it is where it was. Its execution is started if an earlier attempt stopped short.
    Duplicate { status: JobStatus },
    /// The id belongs to a job with another form (an idempotency key reused): nothing changed.
    Conflict,
}

#[derive(Debug, thiserror::Error)]
pub enum SubmitError {
    /// The record could not be written: nothing exists, the caller may retry.
    #[error(transparent)]
    Record(ServiceError),
    /// The record exists (QUEUED) but its execution could not be started.
    #[error(transparent)]
    Execution(ServiceError),
}

/// Writes the QUEUED record (if new) and starts the execution named by the job id. Every step
/// is idempotent: a repeated submission never starts a second run.
pub async fn submit<J: JobStore, E: Executions>(
    jobs: &J,
    executions: &E,
    record: &JobRecord,
) -> Result<Submitted, SubmitError> {
    let job_id = &record.job_id;
    let outcome = match jobs.create(record).await.map_err(SubmitError::Record)? {
        Created::New => Submitted::Started,
        Created::AlreadyExists(existing) if existing.form_digest != record.form_digest => {
            return Ok(Submitted::Conflict)
        }
        Created::AlreadyExists(existing) if !existing.status.is_running() => {
            info!(status = %existing.status, "duplicate submission of a finished job; nothing to do");
            return Ok(Submitted::Duplicate {
                status: existing.status,
            });
        }
        Created::AlreadyExists(existing) => Submitted::Duplicate {
            status: existing.status,
        },
    };
    // Also on a duplicate: the first attempt may have stopped before starting the execution.
    let input = JobTask::new(job_id).execution_input();
    match executions
        .start_execution(job_id, &input)
        .await
        .map_err(SubmitError::Execution)?
    {
        ExecutionStart::Started { execution_arn } => {
            jobs.patch(job_id, JobPatch::ExecutionArn(execution_arn.clone()), None)
                .await
                .map_err(SubmitError::Execution)?;
            info!(execution_arn = %execution_arn, "job queued and execution started");
        }
        ExecutionStart::AlreadyExists => info!("execution already exists; duplicate submission"),
    }
    Ok(outcome)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeExecutions, FakeJobStore};
    use crate::job::{now_rfc3339, JobId, JobSource};

    fn record(id: &str, digest: &str) -> JobRecord {
        JobRecord::queued(
            JobId::parse(id).unwrap(),
            JobSource::Api {
                idempotency_key: Some("k".into()),
            },
            test_form("personalize"),
            digest.into(),
            &now_rfc3339(),
        )
    }

    #[tokio::test]
    async fn a_repeated_submission_starts_one_execution() {
        let (jobs, executions) = (FakeJobStore::default(), FakeExecutions::default());
        let first = submit(&jobs, &executions, &record("j-1", "d1")).await.unwrap();
        assert_eq!(first, Submitted::Started);
        let again = submit(&jobs, &executions, &record("j-1", "d1")).await.unwrap();
        assert_eq!(
            again,
            Submitted::Duplicate {
                status: JobStatus::Queued
            }
        );
        assert_eq!(executions.started.lock().unwrap().len(), 1);
        let stored = jobs.record(&JobId::parse("j-1").unwrap()).unwrap();
        assert!(stored.execution_arn.unwrap().ends_with(":j-1"));
        let (_, input) = &executions.started.lock().unwrap()[0];
        assert_eq!(input, r#"{"job_id":"j-1"}"#);
    }

    #[tokio::test]
    async fn another_form_under_the_same_id_is_a_conflict() {
        let (jobs, executions) = (FakeJobStore::default(), FakeExecutions::default());
        submit(&jobs, &executions, &record("j-1", "d1")).await.unwrap();
        let other = submit(&jobs, &executions, &record("j-1", "d2")).await.unwrap();
        assert_eq!(other, Submitted::Conflict);
    }

    #[tokio::test]
    async fn a_failed_start_leaves_the_record_for_a_retry() {
        let (jobs, executions) = (FakeJobStore::default(), FakeExecutions::default());
        *executions.throttle.lock().unwrap() = true;
        let err = submit(&jobs, &executions, &record("j-1", "d1"))
            .await
            .unwrap_err();
        assert!(matches!(err, SubmitError::Execution(_)));
        *executions.throttle.lock().unwrap() = false;
        let retried = submit(&jobs, &executions, &record("j-1", "d1")).await.unwrap();
        assert!(matches!(retried, Submitted::Duplicate { .. }));
        assert_eq!(executions.started.lock().unwrap().len(), 1);
    }
}
