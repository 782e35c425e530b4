//! Prepare (first state of the job state machine): marks the job PREPARING, checks that every
//! data file the form names exists and has the columns Amazon Personalize needs (`datasets`),
//! and writes the users to score (the form's segment) as batch-inference input in parts under
//! the job's prefix (`scoring_input`). A job fails here in seconds, with the file, column or
//! segment named, instead of an hour into training, and before it takes any quota. A job its
//! schedule or trigger started whose form and data files are those of the last success ends
//! `SKIPPED` here, before anything is launched (`recoflow_core::unchanged`); a retry runs the
//! phases from the one it retries on (`recoflow_core::retry`).

use recoflow_core::errors::StepError;
use recoflow_core::form::{Backend, JobForm};
use recoflow_core::job::{JobId, JobRecord, JobStatus, Prepared, Skipped, USERS_FILE_ROWS};
use recoflow_core::outputs::item_input_key;
use recoflow_core::phase::Phase;
use recoflow_core::ports::{JobPatch, JobStore, TransitionExtras};
use recoflow_core::retry::phases_to_run;
use recoflow_core::s3uri::S3Uri;
use recoflow_core::scoring_parts::scoring_prefix;
use recoflow_core::task::JobTask;
use recoflow_core::unchanged::repeated_success;
use serde::Serialize;
use tracing::{info, Instrument};

use crate::datasets::check_files;
use crate::error::PrepareError;
use crate::item_input::write_item_input;
use crate::ports::PreparePorts;
use crate::scoring_input::write_scoring_input;

/// What the state machine continues with (`$.plan`).
#[derive(Debug, Serialize, PartialEq)]
pub struct Plan {
    pub backend: Backend,
    /// The phases to run, in order (the `RunPhases` Map iterates over them).
    pub phases: Vec<Phase>,
    pub users_to_score: u64,
    /// The form asks for a Slack message when the job succeeds.
    pub notify_on_success: bool,
    /// Nothing changed since the last success: the job is `SKIPPED` and the state machine ends.
    pub skipped: bool,
}

pub async fn handle<P: PreparePorts>(ports: &P, task: JobTask) -> Result<Plan, PrepareError> {
    let job_id = task.job_id;
    let span = tracing::info_span!("prepare", job_id = %job_id);
    async {
        let record = start_preparing(ports, &job_id).await?;
        let form = record
            .form
            .clone()
            .ok_or_else(|| StepError::JobNotFound(job_id.clone()))?;
        let checked = check_files(ports.objects(), &form).await?;
        let files = checked.files;
        info!(files = files.len(), "data files checked");
        ports
            .jobs()
            .patch(
                &job_id,
                JobPatch::DataVersions(checked.versions.clone()),
                Some(&[JobStatus::Preparing]),
            )
            .await?;
        if let Some(skipped) = repeated_success(ports.jobs(), &record, &checked.versions).await? {
            return skip(ports, &job_id, &form, skipped).await;
        }

        let layout = ports.scoring_layout();
        let bucket = ports.results_bucket();
        let written = write_scoring_input(ports.objects(), &form, bucket, &job_id, layout).await?;
        let selection = written.selection;
        info!(
            users = selection.selected,
            rows = selection.rows,
            parts = written.parts,
            "users to score written"
        );
        let item_input = S3Uri {
            bucket: bucket.to_owned(),
            key: item_input_key(&job_id),
        };
        let items_to_score = write_item_input(ports.objects(), &form, &files, &item_input).await?;
        let scoring_input = S3Uri {
            bucket: bucket.to_owned(),
            key: scoring_prefix(&job_id),
        };
        let prepared = Prepared {
            files,
            scoring_input: scoring_input.to_string(),
            users_to_score: selection.selected,
            scoring_parts: written.parts,
            scoring_groups: layout.groups(written.parts),
        };
        let mut counts: std::collections::BTreeMap<String, u64> = [
            ("users_to_score".to_owned(), selection.selected),
            ("scoring_parts".to_owned(), written.parts),
        ]
        .into();
        counts.extend(items_to_score.map(|items| ("items_to_score".to_owned(), items)));
        if form.dataset.users.is_some() {
            counts.insert(USERS_FILE_ROWS.to_owned(), selection.rows);
        }
        let jobs = ports.jobs();
        jobs.patch(
            &job_id,
            JobPatch::Prepared(prepared),
            Some(&[JobStatus::Preparing]),
        )
        .await?;
        jobs.patch(&job_id, JobPatch::Counts(counts), None).await?;
        Ok(Plan {
            backend: form.backend,
            phases: phases_to_run(&record),
            users_to_score: selection.selected,
            notify_on_success: form.notify.as_ref().is_some_and(|n| n.on_success),
            skipped: false,
        })
    }
    .instrument(span)
    .await
}

/// Ends the job `SKIPPED`, naming the success it would have repeated; nothing was launched.
async fn skip<P: PreparePorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    skipped: Skipped,
) -> Result<Plan, PrepareError> {
    info!(matched = %skipped.job_id, "nothing changed since the last success: skipped");
    let reason = skipped.reason.clone();
    let extras = TransitionExtras {
        skipped: Some(skipped),
        ..TransitionExtras::default()
    };
    ports
        .jobs()
        .transition(job_id, JobStatus::Skipped, &reason, extras)
        .await?;
    Ok(Plan {
        backend: form.backend,
        phases: Vec::new(),
        users_to_score: 0,
        notify_on_success: false,
        skipped: true,
    })
}

/// The job's record, the job marked PREPARING (a retried Prepare finds it so already: carry on).
async fn start_preparing<P: PreparePorts>(ports: &P, job_id: &JobId) -> Result<JobRecord, PrepareError> {
    let record = ports
        .jobs()
        .get(job_id)
        .await?
        .ok_or_else(|| StepError::JobNotFound(job_id.clone()))?;
    if record.status != JobStatus::Preparing {
        ports
            .jobs()
            .transition(
                job_id,
                JobStatus::Preparing,
                "checking data files and choosing the users to score",
                TransitionExtras::default(),
            )
            .await?;
    }
    Ok(record)
}
