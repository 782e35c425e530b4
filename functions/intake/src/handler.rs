//! Intake: a form dropped under `submissions/` in the forms bucket becomes a job.
//!
//! Every step is idempotent, so a duplicated or retried S3 event is harmless: the job id comes
//! from the object version, the record is written only if absent, and the execution is named
//! by the job id.

use aws_lambda_events::event::s3::{S3Event, S3EventRecord};
use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::named_diagnostic;
use recoflow_core::errors::ServiceError;
use recoflow_core::form::MAX_FORM_BYTES;
use recoflow_core::job::{form_digest, now_rfc3339, JobId, JobRecord, JobSource};
use recoflow_core::ports::{Executions, JobStore, ObjectRead, ObjectStore};
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::submit::{submit, SubmitError, Submitted};
use recoflow_core::validation::{too_large_problem, validate_form, FormProblem, ValidationRules};
use serde::Serialize;
use tracing::{info, warn, Instrument};

pub const SUBMISSIONS_PREFIX: &str = "submissions/";
pub const REJECTED_PREFIX: &str = "rejected/";

pub struct IntakeDeps<J, E, O> {
    pub jobs: J,
    pub executions: E,
    pub objects: O,
    pub rules: ValidationRules,
}

/// What happened to one submitted object.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum Outcome {
    Started {
        job_id: String,
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

#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct IntakeError(#[from] ServiceError);

impl From<IntakeError> for Diagnostic {
    fn from(err: IntakeError) -> Self {
        named_diagnostic(&err.0)
    }
}

/// Handles every record of the event. A service error fails the invocation so Lambda retries
/// it (bounded; then the dead-letter queue keeps it): retrying finished records is harmless.
pub async fn handle_event<J, E, O>(
    deps: &IntakeDeps<J, E, O>,
    event: S3Event,
) -> Result<Vec<Outcome>, IntakeError>
where
    J: JobStore,
    E: Executions,
    O: ObjectStore,
{
    let mut outcomes = Vec::with_capacity(event.records.len());
    let mut first_error = None;
    for record in &event.records {
        match handle_record(deps, record).await {
            Ok(outcome) => outcomes.push(outcome),
            Err(err) => {
                warn!(error = %err, "submission not processed; the invocation will be retried");
                first_error.get_or_insert(err);
            }
        }
    }
    match first_error {
        Some(err) => Err(err.into()),
        None => Ok(outcomes),
    }
}

async fn handle_record<J, E, O>(
    deps: &IntakeDeps<J, E, O>,
    record: &S3EventRecord,
) -> Result<Outcome, ServiceError>
where
    J: JobStore,
    E: Executions,
    O: ObjectStore,
{
    let bucket = record.s3.bucket.name.clone().unwrap_or_default();
    let key = decode_event_key(record.s3.object.key.as_deref().unwrap_or_default());
    if !key.starts_with(SUBMISSIONS_PREFIX) || key.ends_with('/') {
        return Ok(Outcome::Ignored {
            reason: "not a form under submissions/".to_owned(),
            key,
        });
    }
    // In a versioned bucket the event names the version: that version is the job, even if
    // the key was overwritten since.
    let version_id = record
        .s3
        .object
        .version_id
        .clone()
        .filter(|v| !v.is_empty() && v != "null");
    let version = version_id
        .clone()
        .or_else(|| record.s3.object.e_tag.clone())
        .unwrap_or_default();
    let job_id = JobId::for_s3_object(&bucket, &key, &version);
    let source = JobSource::S3 {
        bucket: bucket.clone(),
        key: key.clone(),
        version,
    };
    let submission = Submission {
        bucket: &bucket,
        key: &key,
        version_id: version_id.as_deref(),
        job_id: &job_id,
        source,
    };
    let span = tracing::info_span!("submission", job_id = %job_id);
    async {
        // The event carries the size: an oversized form is refused without reading it.
        let announced_size = record.s3.object.size.unwrap_or(0).max(0) as u64;
        if announced_size > MAX_FORM_BYTES as u64 {
            return reject(deps, &submission, None, vec![too_large_problem(announced_size)]).await;
        }
        let body = match deps
            .objects
            .read_limited(&bucket, &key, submission.version_id, MAX_FORM_BYTES as u64)
            .await?
        {
            ObjectRead::Body(body) => body,
            ObjectRead::TooLarge { size } => {
                return reject(deps, &submission, None, vec![too_large_problem(size)]).await
            }
            ObjectRead::Missing => return missing(deps, &submission).await,
        };
        match validate_form(&body, &deps.rules) {
            Ok(form) => {
                let record = JobRecord::queued(
                    job_id.clone(),
                    submission.source.clone(),
                    form,
                    form_digest(&body),
                    &now_rfc3339(),
                );
                start(deps, record).await
            }
            Err(problems) => {
                let job_name = readable_job_name(&body);
                reject(deps, &submission, job_name, problems).await
            }
        }
    }
    .instrument(span)
    .await
}

struct Submission<'a> {
    bucket: &'a str,
    key: &'a str,
    version_id: Option<&'a str>,
    job_id: &'a JobId,
    source: JobSource,
}

/// Writes the QUEUED record (if new) and starts the execution named by the job id.
async fn start<J, E, O>(deps: &IntakeDeps<J, E, O>, record: JobRecord) -> Result<Outcome, ServiceError>
where
    J: JobStore,
    E: Executions,
    O: ObjectStore,
{
    let job_id = record.job_id.to_string();
    match submit(&deps.jobs, &deps.executions, &record).await {
        Ok(Submitted::Started) => Ok(Outcome::Started { job_id }),
        // The same object version always has the same bytes, so a conflict is a duplicate too.
        Ok(Submitted::Duplicate { .. } | Submitted::Conflict) => Ok(Outcome::Duplicate { job_id }),
        Err(SubmitError::Record(err) | SubmitError::Execution(err)) => Err(err),
    }
}

#[derive(Serialize)]
struct RejectionReport<'a> {
    job_id: &'a JobId,
    form: String,
    rejected_at: String,
    problems: &'a [FormProblem],
}

/// Records the job REJECTED and moves the form to `rejected/` with an `.errors.json` report
/// beside it. Order matters: the copy and report exist before the original is deleted.
async fn reject<J, E, O>(
    deps: &IntakeDeps<J, E, O>,
    submission: &Submission<'_>,
    job_name: Option<String>,
    problems: Vec<FormProblem>,
) -> Result<Outcome, ServiceError>
where
    J: JobStore,
    E: Executions,
    O: ObjectStore,
{
    let rejected_key = format!(
        "{REJECTED_PREFIX}{}",
        submission
            .key
            .strip_prefix(SUBMISSIONS_PREFIX)
            .unwrap_or(submission.key)
    );
    let now = now_rfc3339();
    let report = RejectionReport {
        job_id: submission.job_id,
        form: format!("s3://{}/{}", submission.bucket, submission.key),
        rejected_at: now.clone(),
        problems: &problems,
    };
    // The record first: the report's arrival under rejected/ is what tells Slack (notify reads
    // the job from it). Then the report and the copy, and only then is the original deleted.
    let count = problems.len();
    let record = JobRecord::rejected(
        submission.job_id.clone(),
        submission.source.clone(),
        job_name,
        problems.clone(),
        &now,
    );
    deps.jobs.create(&record).await?;
    let report_body = serde_json::to_vec_pretty(&report).unwrap_or_default();
    deps.objects
        .put(
            submission.bucket,
            &format!("{rejected_key}.errors.json"),
            report_body,
            "application/json",
        )
        .await?;
    deps.objects
        .copy(
            submission.bucket,
            submission.key,
            submission.version_id,
            &rejected_key,
        )
        .await?;
    deps.objects.delete(submission.bucket, submission.key).await?;
    info!(problems = count, rejected_key = %rejected_key, "form rejected");
    Ok(Outcome::Rejected {
        job_id: submission.job_id.to_string(),
        problems: count,
    })
}

/// The object is gone: either a duplicate event after we moved it, or deleted by its owner.
async fn missing<J, E, O>(
    deps: &IntakeDeps<J, E, O>,
    submission: &Submission<'_>,
) -> Result<Outcome, ServiceError>
where
    J: JobStore,
    E: Executions,
    O: ObjectStore,
{
    if deps.jobs.get(submission.job_id).await?.is_some() {
        info!("form already processed; duplicate delivery");
        return Ok(Outcome::Duplicate {
            job_id: submission.job_id.to_string(),
        });
    }
    warn!(key = %submission.key, "form deleted before it could be read");
    Ok(Outcome::Ignored {
        key: submission.key.to_owned(),
        reason: "the object no longer exists".to_owned(),
    })
}

/// The job name of a rejected form, when it has a readable one, so the record is findable.
fn readable_job_name(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let name = value.get("job_name")?.as_str()?;
    (name.len() <= 48).then(|| name.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::{FakeExecutions, FakeJobStore, FakeObjects};
    use recoflow_core::job::JobStatus;

    const FORMS: &str = "forms-bucket";

    fn deps() -> IntakeDeps<FakeJobStore, FakeExecutions, FakeObjects> {
        IntakeDeps {
            jobs: FakeJobStore::default(),
            executions: FakeExecutions::default(),
            objects: FakeObjects::default(),
            rules: ValidationRules::from_allow_list("data-bucket"),
        }
    }

    fn valid_form() -> String {
        serde_json::json!({
            "schema_version": 1,
            "job_name": "spring-tokyo",
            "submitted_by": "ana@example.com",
            "result_set": "spring",
            "backend": "personalize",
            "dataset": {"interactions": "s3://data-bucket/interactions.csv"},
            "personalize": {}
        })
        .to_string()
    }

    fn event(key: &str, size: usize) -> S3Event {
        serde_json::from_value(serde_json::json!({
            "Records": [{
                "eventVersion": "2.1", "eventSource": "aws:s3", "awsRegion": "us-east-1",
                "eventTime": "2026-11-23T00:00:00.000Z", "eventName": "ObjectCreated:Put",
                "userIdentity": {"principalId": "x"}, "requestParameters": {"sourceIPAddress": "127.0.0.1"},
                "responseElements": {},
                "s3": {
                    "s3SchemaVersion": "1.0", "configurationId": "forms",
                    "bucket": {"name": FORMS, "ownerIdentity": {"principalId": "x"}, "arn": "arn:aws:s3:::forms-bucket"},
                    "object": {"key": key, "size": size, "eTag": "etag-1", "sequencer": "01"}
                }
            }]
        }))
        .unwrap()
    }

    #[tokio::test]
    async fn valid_form_queues_one_job_and_starts_its_execution() {
        let deps = deps();
        let body = valid_form();
        deps.objects
            .insert(FORMS, "submissions/spring.json", body.clone());
        let outcomes = handle_event(&deps, event("submissions/spring.json", body.len()))
            .await
            .unwrap();
        let Outcome::Started { job_id } = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        let record = deps.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
        assert_eq!(record.status, JobStatus::Queued);
        assert_eq!(record.job_name.as_deref(), Some("spring-tokyo"));
        assert!(record.execution_arn.is_some());
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn the_same_event_twice_starts_one_execution() {
        let deps = deps();
        let body = valid_form();
        deps.objects
            .insert(FORMS, "submissions/spring.json", body.clone());
        handle_event(&deps, event("submissions/spring.json", body.len()))
            .await
            .unwrap();
        let second = handle_event(&deps, event("submissions/spring.json", body.len()))
            .await
            .unwrap();
        assert!(matches!(second[0], Outcome::Duplicate { .. }), "{second:?}");
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);
        assert_eq!(deps.jobs.all().len(), 1);
    }

    #[tokio::test]
    async fn invalid_form_is_rejected_moved_and_reported_without_execution() {
        let deps = deps();
        let body = r#"{"schema_version": 2, "job_name": "Bad Name", "colour": "red"}"#;
        deps.objects.insert(FORMS, "submissions/team/bad.json", body);
        let outcomes = handle_event(&deps, event("submissions/team/bad.json", body.len()))
            .await
            .unwrap();
        let Outcome::Rejected { job_id, problems } = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        assert!(*problems >= 4, "every problem is reported, got {problems}");
        let record = deps.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
        assert_eq!(record.status, JobStatus::Rejected);
        assert_eq!(record.problems.len(), *problems);
        assert_eq!(
            deps.objects.keys(),
            vec!["rejected/team/bad.json", "rejected/team/bad.json.errors.json"]
        );
        let report: serde_json::Value = serde_json::from_slice(
            &deps
                .objects
                .get(FORMS, "rejected/team/bad.json.errors.json")
                .unwrap(),
        )
        .unwrap();
        assert_eq!(report["problems"].as_array().unwrap().len(), *problems);
        assert!(deps.executions.started.lock().unwrap().is_empty());
    }

    #[tokio::test]
    async fn oversized_form_is_refused_from_the_event_size_without_reading() {
        let deps = deps();
        // The stored body is small: if the handler read and parsed it, it would say not_json.
        deps.objects.insert(FORMS, "submissions/huge.json", "not read");
        let outcomes = handle_event(&deps, event("submissions/huge.json", 300 * 1024))
            .await
            .unwrap();
        let Outcome::Rejected { job_id, .. } = &outcomes[0] else {
            panic!("{outcomes:?}")
        };
        let record = deps.jobs.record(&JobId::parse(job_id).unwrap()).unwrap();
        assert_eq!(record.problems[0].code, "too_large");
    }

    #[tokio::test]
    async fn throttled_start_fails_the_invocation_and_the_retry_completes_it() {
        let deps = deps();
        let body = valid_form();
        deps.objects
            .insert(FORMS, "submissions/spring.json", body.clone());
        *deps.executions.throttle.lock().unwrap() = true;
        let err = handle_event(&deps, event("submissions/spring.json", body.len()))
            .await
            .unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "ServiceThrottled");
        assert_eq!(
            deps.jobs.all()[0].status,
            JobStatus::Queued,
            "the accepted job is kept"
        );

        *deps.executions.throttle.lock().unwrap() = false;
        let retry = handle_event(&deps, event("submissions/spring.json", body.len()))
            .await
            .unwrap();
        assert!(matches!(retry[0], Outcome::Duplicate { .. }));
        assert_eq!(deps.executions.started.lock().unwrap().len(), 1);
    }

    #[tokio::test]
    async fn objects_outside_submissions_are_ignored() {
        let deps = deps();
        let outcomes = handle_event(&deps, event("rejected/x.json", 10)).await.unwrap();
        assert!(matches!(outcomes[0], Outcome::Ignored { .. }));
        assert!(deps.jobs.all().is_empty());
    }

    #[test]
    fn event_keys_are_url_decoded() {
        assert_eq!(
            decode_event_key("submissions/spring+sale%28v2%29.json"),
            "submissions/spring sale(v2).json"
        );
    }
}
