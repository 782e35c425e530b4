//! Prepare (first state of the job state machine): marks the job PREPARING, checks that every
//! data file the form names exists and has the columns Amazon Personalize needs, and writes the
//! users to score (the form's segment) as batch-inference input under the job's prefix. A job
//! fails here in seconds, with the file, column or segment named, instead of an hour into
//! training, and before it takes any quota.

use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::diagnostic;
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::form::JobForm;
use recoflow_core::job::{JobStatus, Prepared, PreparedFile};
use recoflow_core::phase::Phase;
use recoflow_core::ports::{JobPatch, JobStore, ObjectStore, TransitionError, TransitionExtras};
use recoflow_core::s3uri::S3Uri;
use recoflow_core::segment::{self, SelectError, Selection};
use recoflow_core::task::JobTask;
use serde::Serialize;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;
use tracing::{info, Instrument};

/// A CSV header longer than this is not a header.
const MAX_HEADER_BYTES: u64 = 64 * 1024;
/// The scoring input leaves in chunks of about this size (multipart parts gather them).
const CHUNK_BYTES: usize = 1024 * 1024;

pub struct PrepareDeps<J, O> {
    pub jobs: J,
    pub objects: O,
    /// Bucket of job outputs: the scoring input goes to `jobs/<job id>/input/users.jsonl`.
    pub results_bucket: String,
}

/// What the state machine continues with (`$.plan`).
#[derive(Debug, Serialize, PartialEq)]
pub struct Plan {
    pub backend: String,
    /// The phases to run, in order (the `RunPhases` Map iterates over them).
    pub phases: Vec<Phase>,
    pub users_to_score: u64,
    /// The form asks for a Slack message when the job succeeds.
    pub notify_on_success: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PrepareError {
    #[error("job {0} does not exist")]
    JobNotFound(String),
    #[error("{field}: {uri} does not exist or cannot be read")]
    DatasetMissing { field: String, uri: String },
    #[error("{field}: {uri} {reason}")]
    DatasetInvalid {
        field: String,
        uri: String,
        reason: String,
    },
    #[error("the segment ({segment}) matches none of the {rows} users in {uri}; nothing was launched")]
    SegmentEmpty { segment: String, rows: u64, uri: String },
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for PrepareError {
    fn error_name(&self) -> ErrorName {
        match self {
            PrepareError::JobNotFound(_) | PrepareError::Transition(TransitionError::NotFound(_)) => {
                ErrorName::JobNotFound
            }
            PrepareError::DatasetMissing { .. } => ErrorName::DatasetMissing,
            PrepareError::DatasetInvalid { .. } => ErrorName::DatasetInvalid,
            PrepareError::SegmentEmpty { .. } => ErrorName::SegmentEmpty,
            PrepareError::Transition(TransitionError::Service(e)) | PrepareError::Service(e) => {
                e.error_name()
            }
            PrepareError::Transition(TransitionError::Illegal { .. }) => ErrorName::IllegalTransition,
        }
    }
}

impl From<PrepareError> for Diagnostic {
    fn from(err: PrepareError) -> Self {
        diagnostic(err.error_name(), &err)
    }
}

/// Columns each dataset file must have (Amazon Personalize conventions).
fn required_columns(field: &str) -> &'static [&'static str] {
    match field {
        "dataset.interactions" => &["USER_ID", "ITEM_ID", "TIMESTAMP"],
        "dataset.users" => &["USER_ID"],
        "dataset.items" => &["ITEM_ID"],
        _ => &[],
    }
}

pub async fn handle<J: JobStore, O: ObjectStore>(
    deps: &PrepareDeps<J, O>,
    task: JobTask,
) -> Result<Plan, PrepareError> {
    let job_id = task.job_id;
    let span = tracing::info_span!("prepare", job_id = %job_id);
    async {
        let record = deps
            .jobs
            .get(&job_id)
            .await?
            .ok_or_else(|| PrepareError::JobNotFound(job_id.to_string()))?;
        let form = record
            .form
            .ok_or_else(|| PrepareError::JobNotFound(format!("{job_id} (no valid form)")))?;
        // A retried Prepare finds the job already PREPARING: carry on.
        if record.status != JobStatus::Preparing {
            deps.jobs
                .transition(
                    &job_id,
                    JobStatus::Preparing,
                    "checking data files and choosing the users to score",
                    TransitionExtras::default(),
                )
                .await?;
        }

        let mut files = Vec::new();
        for (field, uri) in form.dataset.files() {
            files.push(check_csv(&deps.objects, field, uri).await?);
        }
        if let Some(uri) = &form.exclude_items {
            let parsed = parse(uri, "exclude_items")?;
            let bytes = deps
                .objects
                .size(&parsed.bucket, &parsed.key)
                .await?
                .ok_or_else(|| PrepareError::DatasetMissing {
                    field: "exclude_items".to_owned(),
                    uri: uri.clone(),
                })?;
            files.push(PreparedFile {
                field: "exclude_items".to_owned(),
                uri: uri.clone(),
                bytes,
                columns: Vec::new(),
            });
        }
        info!(files = files.len(), "data files checked");

        let scoring_input = S3Uri {
            bucket: deps.results_bucket.clone(),
            key: format!("jobs/{job_id}/input/users.jsonl"),
        };
        let selection = write_scoring_input(deps, &form, &scoring_input).await?;
        info!(
            users = selection.selected,
            rows = selection.rows,
            "users to score written"
        );
        let prepared = Prepared {
            files,
            scoring_input: scoring_input.to_string(),
            users_to_score: selection.selected,
        };
        let counts = [("users_to_score".to_owned(), selection.selected)].into();
        deps.jobs
            .patch(
                &job_id,
                JobPatch::Prepared(prepared),
                Some(&[JobStatus::Preparing]),
            )
            .await?;
        deps.jobs.patch(&job_id, JobPatch::Counts(counts), None).await?;
        Ok(Plan {
            backend: serde_json::to_value(form.backend)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            phases: Phase::plan(form.backend).to_vec(),
            users_to_score: selection.selected,
            notify_on_success: form.notify.as_ref().is_some_and(|n| n.on_success),
        })
    }
    .instrument(span)
    .await
}

/// Streams the users file (or, without one, the interactions) through the segment filter into
/// the scoring input, reading and uploading at the same time.
async fn write_scoring_input<J, O: ObjectStore>(
    deps: &PrepareDeps<J, O>,
    form: &JobForm,
    output: &S3Uri,
) -> Result<Selection, PrepareError> {
    let (field, uri) = match &form.dataset.users {
        Some(users) => ("dataset.users", users.as_str()),
        None => ("dataset.interactions", form.dataset.interactions.as_str()),
    };
    let source = parse(uri, field)?;
    let stream = deps
        .objects
        .open(&source.bucket, &source.key, 0)
        .await?
        .ok_or_else(|| PrepareError::DatasetMissing {
            field: field.to_owned(),
            uri: uri.to_owned(),
        })?;
    let (chunks, received) = mpsc::channel::<Vec<u8>>(2);
    let reader = SyncIoBridge::new(stream);
    let segment = form.segment.clone();
    let by_users_file = form.dataset.users.is_some();
    // The CSV reader is synchronous: it runs on a blocking thread, fed by the async stream.
    let select = tokio::task::spawn_blocking(move || {
        let emit = |chunk: Vec<u8>| {
            chunks
                .blocking_send(chunk)
                .map_err(|_| "the upload stopped".to_owned())
        };
        if by_users_file {
            segment::select_users(reader, segment.as_ref(), CHUNK_BYTES, emit)
        } else {
            segment::distinct_interaction_users(reader, CHUNK_BYTES, emit)
        }
    });
    let upload = deps
        .objects
        .put_chunks(&output.bucket, &output.key, "application/x-ndjson", received);
    let (selected, uploaded) = tokio::join!(select, upload);
    let invalid = |reason: String| PrepareError::DatasetInvalid {
        field: field.to_owned(),
        uri: uri.to_owned(),
        reason,
    };
    let selection = match selected.map_err(|e| invalid(format!("could not be read: {e}")))? {
        Ok(selection) => selection,
        // The upload's own error says more than "the upload stopped".
        Err(SelectError::Output(_)) => {
            return Err(uploaded
                .err()
                .map(Into::into)
                .unwrap_or_else(|| invalid("could not be written".into())))
        }
        Err(err) => return Err(invalid(err.to_string())),
    };
    uploaded?;
    if selection.selected == 0 {
        return Err(PrepareError::SegmentEmpty {
            segment: segment::describe(form.segment.as_ref()),
            rows: selection.rows,
            uri: uri.to_owned(),
        });
    }
    Ok(selection)
}

fn parse(uri: &str, field: &str) -> Result<S3Uri, PrepareError> {
    S3Uri::parse(uri).map_err(|reason| PrepareError::DatasetInvalid {
        field: field.to_owned(),
        uri: uri.to_owned(),
        reason,
    })
}

async fn check_csv<O: ObjectStore>(
    objects: &O,
    field: &str,
    uri: &str,
) -> Result<PreparedFile, PrepareError> {
    let missing = || PrepareError::DatasetMissing {
        field: field.to_owned(),
        uri: uri.to_owned(),
    };
    let invalid = |reason: String| PrepareError::DatasetInvalid {
        field: field.to_owned(),
        uri: uri.to_owned(),
        reason,
    };
    let location = parse(uri, field)?;
    // One ranged GET gives the header and the file's size, whatever the file's size.
    let head = objects
        .read_head(&location.bucket, &location.key, MAX_HEADER_BYTES)
        .await?
        .ok_or_else(missing)?;
    let columns = header_columns(&head.bytes).map_err(invalid)?;
    let absent: Vec<&str> = required_columns(field)
        .iter()
        .copied()
        .filter(|required| !columns.iter().any(|c| c == required))
        .collect();
    if !absent.is_empty() {
        return Err(invalid(format!(
            "lacks required column(s) {}; its header has {}",
            absent.join(", "),
            columns.join(", ")
        )));
    }
    Ok(PreparedFile {
        field: field.to_owned(),
        uri: uri.to_owned(),
        bytes: head.size,
        columns,
    })
}

/// Column names of a CSV header, upper-cased and trimmed (Personalize matches them that way).
fn header_columns(head: &[u8]) -> Result<Vec<String>, String> {
    if head.is_empty() {
        return Err("is empty".to_owned());
    }
    let end = head.iter().position(|b| *b == b'\n').ok_or_else(|| {
        if head.len() as u64 >= MAX_HEADER_BYTES {
            format!(
                "has no line break in its first {} KiB: it is not a CSV file",
                MAX_HEADER_BYTES / 1024
            )
        } else {
            "has a header but no rows".to_owned()
        }
    })?;
    let line = std::str::from_utf8(&head[..end])
        .map_err(|_| "has a header that is not UTF-8 text".to_owned())?
        .trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    let record = reader
        .records()
        .next()
        .transpose()
        .map_err(|e| format!("has a header that is not valid CSV: {e}"))?
        .unwrap_or_default();
    Ok(record.iter().map(|c| c.trim().to_ascii_uppercase()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::{test_form, FakeJobStore, FakeObjects};
    use recoflow_core::job::JobId;

    const INTERACTIONS: &str = "user_id,ITEM_ID,\"TIMESTAMP\",EVENT_TYPE\r\nu1,i1,1,click\nu2,i1,2,click\n";
    const USERS: &str = "\u{feff}USER_ID,GENDER,AGE\nu1,F,25\nu2,M,30\n\"u,3\",f,41\n";

    /// A container job on `s3://data/i.csv` (+ `u.csv`), segment gender F.
    fn deps_with_job(users: bool) -> (PrepareDeps<FakeJobStore, FakeObjects>, JobId) {
        let mut form = test_form("container");
        if !users {
            form.dataset.users = None;
            form.segment = None;
        }
        let deps = PrepareDeps {
            jobs: FakeJobStore::default(),
            objects: FakeObjects::default(),
            results_bucket: "results".into(),
        };
        let job_id = deps.jobs.insert_queued("spring-1", form);
        (deps, job_id)
    }

    fn task(job_id: &JobId) -> JobTask {
        JobTask::new(job_id)
    }

    fn scoring_input(deps: &PrepareDeps<FakeJobStore, FakeObjects>, job_id: &JobId) -> String {
        String::from_utf8(
            deps.objects
                .get("results", &format!("jobs/{job_id}/input/users.jsonl"))
                .expect("the scoring input exists"),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn good_files_give_the_plan_and_the_segment_users() {
        let (deps, job_id) = deps_with_job(true);
        deps.objects.insert("data", "i.csv", INTERACTIONS);
        deps.objects.insert("data", "u.csv", USERS);
        let plan = handle(&deps, task(&job_id)).await.unwrap();
        assert_eq!(plan.phases, [Phase::Train, Phase::Score]);
        assert_eq!(plan.backend, "container");
        assert_eq!(plan.users_to_score, 2);
        assert_eq!(
            scoring_input(&deps, &job_id),
            "{\"userId\":\"u1\"}\n{\"userId\":\"u,3\"}\n"
        );
        let record = deps.jobs.record(&job_id).unwrap();
        assert_eq!(record.status, JobStatus::Preparing);
        let prepared = record.prepared.unwrap();
        assert_eq!(
            prepared.files[0].columns,
            ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
        );
        assert_eq!(prepared.users_to_score, 2);
        assert_eq!(record.counts["users_to_score"], 2);
        // A Step Functions retry of the same state is harmless.
        handle(&deps, task(&job_id)).await.unwrap();
    }

    #[tokio::test]
    async fn without_a_users_file_every_user_of_the_interactions_is_scored() {
        let (deps, job_id) = deps_with_job(false);
        deps.objects.insert("data", "i.csv", INTERACTIONS);
        let plan = handle(&deps, task(&job_id)).await.unwrap();
        assert_eq!(plan.users_to_score, 2);
    }

    #[tokio::test]
    async fn a_large_users_file_is_uploaded_in_chunks() {
        let (deps, job_id) = deps_with_job(true);
        deps.objects.insert("data", "i.csv", INTERACTIONS);
        let mut users = String::from("USER_ID,GENDER\n");
        for i in 0..200_000 {
            users.push_str(&format!("user-{i},F\n"));
        }
        deps.objects.insert("data", "u.csv", users);
        let plan = handle(&deps, task(&job_id)).await.unwrap();
        assert_eq!(plan.users_to_score, 200_000);
        let key = format!("jobs/{job_id}/input/users.jsonl");
        assert!(deps.objects.chunk_counts.lock().unwrap()[&key] > 1);
        assert_eq!(scoring_input(&deps, &job_id).lines().count(), 200_000);
    }

    #[tokio::test]
    async fn a_segment_that_matches_nobody_fails_before_anything_is_launched() {
        let (deps, job_id) = deps_with_job(true);
        deps.objects.insert("data", "i.csv", INTERACTIONS);
        deps.objects
            .insert("data", "u.csv", "USER_ID,GENDER\nu1,M\nu2,M\n");
        let err = handle(&deps, task(&job_id)).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::SegmentEmpty);
        assert_eq!(
            err.to_string(),
            "the segment (gender F) matches none of the 2 users in s3://data/u.csv; nothing was launched"
        );
    }

    #[tokio::test]
    async fn a_segment_column_missing_from_the_users_file_is_named() {
        let (deps, job_id) = deps_with_job(true);
        deps.objects.insert("data", "i.csv", INTERACTIONS);
        deps.objects.insert("data", "u.csv", "USER_ID,AGE\nu1,30\n");
        let err = handle(&deps, task(&job_id)).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::DatasetInvalid);
        assert!(err.to_string().contains("has no GENDER column"), "{err}");
    }

    #[tokio::test]
    async fn a_missing_file_is_named() {
        let (deps, job_id) = deps_with_job(true);
        let err = handle(&deps, task(&job_id)).await.unwrap_err();
        assert!(
            err.to_string().contains("dataset.interactions: s3://data/i.csv"),
            "{err}"
        );
        assert_eq!(Diagnostic::from(err).error_type, "DatasetMissing");
    }

    #[tokio::test]
    async fn a_missing_column_is_named() {
        let (deps, job_id) = deps_with_job(true);
        deps.objects.insert("data", "i.csv", "USER_ID,ITEM_ID\nu1,i1\n");
        let err = handle(&deps, task(&job_id)).await.unwrap_err();
        assert!(
            err.to_string().contains("lacks required column(s) TIMESTAMP"),
            "{err}"
        );
        assert_eq!(Diagnostic::from(err).error_type, "DatasetInvalid");
    }

    #[test]
    fn headers_are_read_as_csv() {
        assert_eq!(
            header_columns(b"\"USER_ID\",\"a,b\" , item_id\r\nu1,x,i1\n").unwrap(),
            ["USER_ID", "A,B", "ITEM_ID"]
        );
        assert_eq!(
            header_columns(b"USER_ID").unwrap_err(),
            "has a header but no rows"
        );
    }
}
