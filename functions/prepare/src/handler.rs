//! Prepare (first state of the job state machine): marks the job PREPARING and checks that
//! every data file the form names exists and has the columns Amazon Personalize needs, so a
//! job fails in seconds with the file and column named instead of an hour into training.

use lambda_runtime::Diagnostic;
use recoflow_core::errors::{diagnostic, ServiceError};
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{JobStore, ObjectStore, TransitionError, TransitionExtras};
use recoflow_core::s3uri::S3Uri;
use serde::{Deserialize, Serialize};
use tracing::{info, Instrument};

/// A CSV header longer than this is not a header.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

pub struct PrepareDeps<J, O> {
    pub jobs: J,
    pub objects: O,
}

#[derive(Debug, Deserialize)]
pub struct PrepareInput {
    pub job_id: String,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct PreparedFile {
    pub field: String,
    pub uri: String,
    pub bytes: u64,
    pub columns: Vec<String>,
}

#[derive(Debug, Serialize, PartialEq)]
pub struct Prepared {
    pub backend: String,
    pub files: Vec<PreparedFile>,
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
    #[error(transparent)]
    Transition(#[from] TransitionError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<PrepareError> for Diagnostic {
    fn from(err: PrepareError) -> Self {
        let name = match &err {
            PrepareError::JobNotFound(_) => "JobNotFound",
            PrepareError::DatasetMissing { .. } => "DatasetMissing",
            PrepareError::DatasetInvalid { .. } => "DatasetInvalid",
            PrepareError::Transition(TransitionError::Service(e)) | PrepareError::Service(e) => {
                e.error_type()
            }
            PrepareError::Transition(TransitionError::NotFound(_)) => "JobNotFound",
            PrepareError::Transition(TransitionError::Illegal { .. }) => "IllegalTransition",
        };
        diagnostic(name, &err)
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
    input: PrepareInput,
) -> Result<Prepared, PrepareError> {
    let job_id =
        JobId::parse(&input.job_id).ok_or_else(|| PrepareError::JobNotFound(input.job_id.clone()))?;
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
                    "checking data files",
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
        Ok(Prepared {
            backend: serde_json::to_value(form.backend)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            files,
        })
    }
    .instrument(span)
    .await
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
    let line =
        std::str::from_utf8(&head[..end]).map_err(|_| "has a header that is not UTF-8 text".to_owned())?;
    let line = line.trim_start_matches('\u{feff}').trim_end_matches('\r');
    Ok(line
        .split(',')
        .map(|c| c.trim().trim_matches('"').to_ascii_uppercase())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use recoflow_core::fakes::{FakeJobStore, FakeObjects};
    use recoflow_core::validation::{validate_form, ValidationRules};

    fn deps_with_job(users: Option<&str>) -> (PrepareDeps<FakeJobStore, FakeObjects>, JobId) {
        let mut form = serde_json::json!({
            "schema_version": 1, "job_name": "spring", "submitted_by": "a@b.co", "result_set": "spring",
            "backend": "personalize", "personalize": {},
            "dataset": {"interactions": "s3://data/i.csv"}
        });
        if let Some(users) = users {
            form["dataset"]["users"] = users.into();
        }
        let form = validate_form(
            form.to_string().as_bytes(),
            &ValidationRules::from_allow_list("data"),
        )
        .unwrap();
        let deps = PrepareDeps {
            jobs: FakeJobStore::default(),
            objects: FakeObjects::default(),
        };
        let job_id = deps.jobs.insert_queued("spring-1", form);
        (deps, job_id)
    }

    fn input(job_id: &JobId) -> PrepareInput {
        PrepareInput {
            job_id: job_id.to_string(),
        }
    }

    #[tokio::test]
    async fn good_files_move_the_job_to_preparing() {
        let (deps, job_id) = deps_with_job(Some("s3://data/u.csv"));
        deps.objects.insert(
            "data",
            "i.csv",
            "user_id,ITEM_ID,\"TIMESTAMP\",EVENT_TYPE\r\nu1,i1,1,click\n",
        );
        deps.objects
            .insert("data", "u.csv", "\u{feff}USER_ID,GENDER\nu1,F\n");
        let prepared = handle(&deps, input(&job_id)).await.unwrap();
        assert_eq!(prepared.files.len(), 2);
        assert_eq!(
            prepared.files[0].columns,
            ["USER_ID", "ITEM_ID", "TIMESTAMP", "EVENT_TYPE"]
        );
        assert_eq!(deps.jobs.record(&job_id).unwrap().status, JobStatus::Preparing);
        // A Step Functions retry of the same state is harmless.
        handle(&deps, input(&job_id)).await.unwrap();
    }

    #[tokio::test]
    async fn a_missing_file_is_named() {
        let (deps, job_id) = deps_with_job(None);
        let err = handle(&deps, input(&job_id)).await.unwrap_err();
        assert!(
            err.to_string().contains("dataset.interactions: s3://data/i.csv"),
            "{err}"
        );
        assert_eq!(Diagnostic::from(err).error_type, "DatasetMissing");
    }

    #[tokio::test]
    async fn a_missing_column_is_named() {
        let (deps, job_id) = deps_with_job(None);
        deps.objects.insert("data", "i.csv", "USER_ID,ITEM_ID\nu1,i1\n");
        let err = handle(&deps, input(&job_id)).await.unwrap_err();
        assert!(
            err.to_string().contains("lacks required column(s) TIMESTAMP"),
            "{err}"
        );
        assert_eq!(Diagnostic::from(err).error_type, "DatasetInvalid");
    }

    #[tokio::test]
    async fn unknown_job_is_job_not_found() {
        let (deps, _) = deps_with_job(None);
        let err = handle(
            &deps,
            PrepareInput {
                job_id: "nope".into(),
            },
        )
        .await
        .unwrap_err();
        assert_eq!(Diagnostic::from(err).error_type, "JobNotFound");
    }
}
