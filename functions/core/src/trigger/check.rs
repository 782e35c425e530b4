//! A trigger's check, after the quiet period its data event waited: the files' heads (the
//! truth, whatever order events came in) say whether every file has a newer version than the
//! last run used and none changed for `quiet_seconds`; then the job starts through the one
//! submit path, its id derived from the trigger and the versions, so however many checks one
//! upload gets (one per file, replays, a retried check) it starts one job.

use serde::Serialize;
use tracing::info;

use super::arrival::CheckInput;
use super::ports::{TriggerPorts, TriggerStore};
use super::record::{TriggerRecord, TriggerRun, TriggerState};
use super::TriggerId;
use crate::data_version::DataVersion;
use crate::errors::ServiceError;
use crate::job::{JobId, JobRecord, JobSource, JobStatus};
use crate::ports::{Clock, ObjectStore};
use crate::s3uri::S3Uri;
use crate::submit::{submit, SubmitError, Submitted};

/// Conditional writes of one run's note before giving up (only checks of one trigger meet).
const MAX_NOTE_ATTEMPTS: u32 = 8;

/// What a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum CheckOutcome {
    Started {
        job_id: JobId,
    },
    /// The job of these versions exists (another check of the same upload was first).
    Duplicate {
        job_id: JobId,
        status: JobStatus,
    },
    /// A file was written less than the quiet period ago: look again after `wait_seconds`.
    NotQuiet {
        wait_seconds: u32,
    },
    /// These files have no newer version than the last run used (or than the trigger, before
    /// its first run): nothing starts until they do.
    NotAllNew {
        unchanged: Vec<String>,
    },
    /// A watched file does not exist (yet).
    Missing {
        field: String,
        uri: String,
    },
    /// The trigger is unknown or deleted.
    Ignored {
        reason: String,
    },
}

/// What the trigger-check state machine reads: done, or wait and check again.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct CheckAnswer {
    pub done: bool,
    pub wait_seconds: u32,
    #[serde(flatten)]
    pub outcome: CheckOutcome,
}

impl From<CheckOutcome> for CheckAnswer {
    fn from(outcome: CheckOutcome) -> Self {
        let wait_seconds = match outcome {
            CheckOutcome::NotQuiet { wait_seconds } => wait_seconds,
            _ => 0,
        };
        Self {
            done: wait_seconds == 0,
            wait_seconds,
            outcome,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("trigger {0}: other writers kept changing its record; the check is retried")]
    Contended(TriggerId),
}

impl From<SubmitError> for CheckError {
    fn from(err: SubmitError) -> Self {
        match err {
            SubmitError::Record(err) | SubmitError::Execution(err) => Self::Service(err),
        }
    }
}

/// Checks the trigger and starts its job when the data is new and quiet.
pub async fn check_trigger<P: TriggerPorts>(
    ports: &P,
    input: &CheckInput,
) -> Result<CheckOutcome, CheckError> {
    let Some(record) = ports.triggers().get(&input.trigger_id).await? else {
        return Ok(ignored(format!("no trigger {}", input.trigger_id)));
    };
    if record.state != TriggerState::Enabled {
        return Ok(ignored(format!(
            "trigger {} is {}",
            record.trigger_id, record.state
        )));
    }
    let files = match heads(ports.objects(), &record).await? {
        Ok(files) => files,
        Err((field, uri)) => return Ok(CheckOutcome::Missing { field, uri }),
    };
    let unchanged = not_new(&record, &files);
    if !unchanged.is_empty() {
        return Ok(CheckOutcome::NotAllNew { unchanged });
    }
    let quiet = i64::from(record.settings().quiet_seconds);
    let last_write = files.iter().filter_map(|f| f.version.last_modified).max();
    let since = last_write.map_or(quiet, |at| ports.clock().unix_now() - at);
    if since < quiet {
        let wait_seconds = u32::try_from(quiet - since).unwrap_or(u32::MAX);
        return Ok(CheckOutcome::NotQuiet { wait_seconds });
    }
    start_run(ports, &record, files, input.force).await
}

fn ignored(reason: String) -> CheckOutcome {
    info!(%reason, "trigger check ignored");
    CheckOutcome::Ignored { reason }
}

/// Each watched file's current version, or the first one missing (field, URI).
async fn heads<O: ObjectStore>(
    objects: &O,
    record: &TriggerRecord,
) -> Result<Result<Vec<DataVersion>, (String, String)>, ServiceError> {
    let mut files = Vec::new();
    for (field, uri) in record.watched() {
        let missing = || Ok(Err((field.to_owned(), uri.to_owned())));
        let Ok(location) = S3Uri::parse(uri) else {
            return missing();
        };
        // One byte is enough: the answer's headers carry the version, ETag and size.
        let Some(head) = objects.read_head(&location.bucket, &location.key, 1).await? else {
            return missing();
        };
        files.push(DataVersion::new(field, uri, head.size, head.version));
    }
    Ok(Ok(files))
}

/// The fields whose file has no newer version than the last run's (before the first run:
/// none written since the trigger was registered).
fn not_new(record: &TriggerRecord, files: &[DataVersion]) -> Vec<String> {
    let last_run = record.runs.last();
    files
        .iter()
        .filter(|file| {
            let before = last_run.and_then(|run| {
                run.files
                    .iter()
                    .find(|f| f.field == file.field && f.uri == file.uri)
            });
            let new = match before {
                Some(before) => file.is_newer_than(before),
                None => file
                    .version
                    .last_modified
                    .is_none_or(|written| written >= record.registered_at),
            };
            !new
        })
        .map(|file| file.field.clone())
        .collect()
}

/// Starts the run's job (once: its id derives from the versions) and notes the run on the
/// trigger, after the job, so a crash between the two is finished by the next check.
async fn start_run<P: TriggerPorts>(
    ports: &P,
    record: &TriggerRecord,
    files: Vec<DataVersion>,
    force: bool,
) -> Result<CheckOutcome, CheckError> {
    let versions: Vec<(&str, &str)> = files
        .iter()
        .map(|f| {
            let version = f.version.version_id.as_deref().or(f.version.etag.as_deref());
            (f.uri.as_str(), version.unwrap_or_default())
        })
        .collect();
    let job_id = JobId::for_trigger(&record.form.job_name, record.trigger_id.as_str(), &versions);
    let now = ports.clock().rfc3339_now();
    let source = JobSource::Trigger {
        trigger_id: record.trigger_id.to_string(),
    };
    let mut job = JobRecord::queued(
        job_id.clone(),
        source,
        record.job_form(force),
        record.form_digest.clone(),
        &now,
    );
    job.earlier_runs = record.earlier_runs();
    let submitted = submit(ports.jobs(), ports.executions(), &job).await?;
    note_run(
        ports,
        &record.trigger_id,
        TriggerRun {
            job_id: job_id.clone(),
            at: now,
            files,
        },
    )
    .await?;
    let outcome = match submitted {
        Submitted::Started => CheckOutcome::Started { job_id },
        Submitted::Duplicate { status } => CheckOutcome::Duplicate { job_id, status },
        Submitted::Conflict => ignored(format!("job {job_id} exists with another form")),
    };
    info!(outcome = ?outcome, "trigger check handled");
    Ok(outcome)
}

async fn note_run<P: TriggerPorts>(ports: &P, id: &TriggerId, run: TriggerRun) -> Result<(), CheckError> {
    for _ in 0..MAX_NOTE_ATTEMPTS {
        let Some(mut record) = ports.triggers().get(id).await? else {
            return Ok(());
        };
        let read_revision = record.revision;
        if !record.note_run(run.clone()) {
            return Ok(());
        }
        record.revision += 1;
        record.updated_at = run.at.clone();
        if ports.triggers().replace(&record, read_revision).await? {
            return Ok(());
        }
    }
    Err(CheckError::Contended(id.clone()))
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
