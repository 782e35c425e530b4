//! Reruns from the failed phase (`POST /jobs/{id}/retry`): a new job that reuses every phase
//! the old one finished (its trained model, imported datasets, solution version) and starts at
//! the phase that failed; the reused resources are on the new job's record, marked `reused`,
//! so the runner plans later phases on them as on its own. A job that failed before any phase
//! finished runs from the start; one that failed delivering scores again (its scores are
//! written under its own job's prefix). `from_phase` reruns any phase whose predecessors
//! finished, also of a job that succeeded.
//!
//! The new job's id derives from the old one and the phase, and it goes through the one
//! submit path, so the same retry asked twice starts one job.

use tracing::info;

use crate::errors::ServiceError;
use crate::form::Backend;
use crate::job::{JobId, JobRecord, JobSource, JobStatus};
use crate::phase::{LaunchedResource, Phase, ResourceState, Reused};
use crate::ports::{Executions, JobPatch, JobStore};
use crate::submit::{submit, SubmitError, Submitted};

/// Why a job cannot be retried (as asked).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum RetryRefusal {
    #[error("job {0} does not exist")]
    NotFound(JobId),
    #[error("job {job_id} is still {status}; retry it once it has ended (or cancel it first)")]
    Running { job_id: JobId, status: JobStatus },
    #[error("job {job_id} is {status}: {reason}")]
    NotRetryable {
        job_id: JobId,
        status: JobStatus,
        reason: String,
    },
    #[error("from_phase {phase} is not a phase of a {backend} job; its phases are {phases}")]
    PhaseNotInPlan {
        phase: Phase,
        backend: &'static str,
        phases: String,
    },
    #[error("job {job_id} did not finish phase {unfinished}, which {phase} needs; retry from {unfinished} (or leave from_phase out)")]
    PhaseNotFinished {
        job_id: JobId,
        phase: Phase,
        unfinished: Phase,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum RetryError {
    #[error(transparent)]
    Refused(#[from] RetryRefusal),
    #[error(transparent)]
    Submit(#[from] SubmitError),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// What the retry reuses and where it starts.
#[derive(Debug, Clone, PartialEq)]
pub struct RetryPlan {
    pub from_phase: Phase,
    /// The old job's resources of the phases before `from_phase`, by name, marked reused.
    pub reused: Vec<LaunchedResource>,
}

/// What a retry call became.
#[derive(Debug, Clone, PartialEq)]
pub struct Retried {
    pub job_id: JobId,
    pub retry_of: JobId,
    pub from_phase: Phase,
    /// Names of the resources the new job reuses.
    pub reused: Vec<String>,
    /// The same retry was asked before: its job, where it is.
    pub replayed: Option<JobStatus>,
}

/// The phases the job finished, in order: those the history shows it moved past.
pub fn finished_phases(record: &JobRecord) -> Vec<Phase> {
    let Some(form) = record.form.as_ref() else {
        return Vec::new();
    };
    let plan = Phase::plan(form.backend);
    let reached = |status: JobStatus| record.history.iter().any(|change| change.status == status);
    let delivered = reached(JobStatus::Delivering);
    plan.iter()
        .enumerate()
        .filter(|(i, _)| delivered || plan[i + 1..].iter().any(|later| reached(later.status())))
        .map(|(_, phase)| *phase)
        .collect()
}

/// Where the retry of `old` starts and what it reuses.
pub fn plan_retry(old: &JobRecord, from_phase: Option<Phase>) -> Result<RetryPlan, RetryRefusal> {
    let job_id = &old.job_id;
    let refuse = |reason: &str| RetryRefusal::NotRetryable {
        job_id: job_id.clone(),
        status: old.status,
        reason: reason.to_owned(),
    };
    if old.status.is_running() {
        return Err(RetryRefusal::Running {
            job_id: job_id.clone(),
            status: old.status,
        });
    }
    let form = old
        .form
        .as_ref()
        .ok_or_else(|| refuse("it has no valid form to run again"))?;
    let plan = Phase::plan(form.backend);
    let finished = finished_phases(old);
    let from = match (old.status, from_phase) {
        (JobStatus::Rejected | JobStatus::Skipped, _) => {
            return Err(refuse("it never ran; submit its form again instead"))
        }
        (JobStatus::Succeeded | JobStatus::Held, None) => {
            return Err(refuse("it succeeded; give from_phase (e.g. {\"from_phase\": \"score\"}) to rerun a phase with what it made before"))
        }
        (_, Some(phase)) => phase,
        // The first phase it did not finish; all finished: it failed delivering, so it scores again.
        (_, None) => plan
            .iter()
            .copied()
            .find(|phase| !finished.contains(phase))
            .unwrap_or(plan[plan.len() - 1]),
    };
    let Some(position) = plan.iter().position(|phase| *phase == from) else {
        return Err(RetryRefusal::PhaseNotInPlan {
            phase: from,
            backend: backend_name(form.backend),
            phases: plan.iter().map(|p| p.as_str()).collect::<Vec<_>>().join(", "),
        });
    };
    if let Some(unfinished) = plan[..position].iter().find(|phase| !finished.contains(phase)) {
        return Err(RetryRefusal::PhaseNotFinished {
            job_id: job_id.clone(),
            phase: from,
            unfinished: *unfinished,
        });
    }
    let reused = old
        .resources
        .values()
        .filter(|r| plan[..position].contains(&r.phase) && r.state == ResourceState::Succeeded)
        .map(|r| LaunchedResource {
            reused: Some(Reused {
                job_id: r.launched_by(job_id).clone(),
            }),
            ..r.clone()
        })
        .collect();
    Ok(RetryPlan {
        from_phase: from,
        reused,
    })
}

/// The phases a job runs: its backend's, or, for a retry, those from the phase it starts at
/// (the earlier ones' resources are on its record, reused).
pub fn phases_to_run(record: &JobRecord) -> Vec<Phase> {
    let Some(form) = record.form.as_ref() else {
        return Vec::new();
    };
    let plan = Phase::plan(form.backend);
    let start = match &record.source {
        JobSource::Retry { from_phase, .. } => plan.iter().position(|p| p == from_phase).unwrap_or(0),
        _ => 0,
    };
    plan[start..].to_vec()
}

fn backend_name(backend: Backend) -> &'static str {
    match backend {
        Backend::Container => "container",
        Backend::Personalize => "personalize",
    }
}

/// The new job's record: the old form, QUEUED, with the reused resources.
pub fn retry_record(old: &JobRecord, plan: &RetryPlan, now: &str) -> Option<JobRecord> {
    let form = old.form.clone()?;
    let job_id = JobId::for_retry(&form.job_name, &old.job_id, plan.from_phase.as_str());
    let source = JobSource::Retry {
        retry_of: old.job_id.clone(),
        from_phase: plan.from_phase,
    };
    let digest = old.form_digest.clone().unwrap_or_default();
    let mut record = JobRecord::queued(job_id, source, form, digest, now);
    record.resources = plan.reused.iter().map(|r| (r.name.clone(), r.clone())).collect();
    Some(record)
}

/// Retries job `job_id` (from `from_phase`, else from where it failed): the new job written and
/// started through the one submit path, the old record pointing to it.
pub async fn retry_job<J: JobStore, E: Executions>(
    jobs: &J,
    executions: &E,
    job_id: &JobId,
    from_phase: Option<Phase>,
    now: &str,
) -> Result<Retried, RetryError> {
    let old = jobs
        .get(job_id)
        .await?
        .ok_or_else(|| RetryRefusal::NotFound(job_id.clone()))?;
    let plan = plan_retry(&old, from_phase)?;
    let record = retry_record(&old, &plan, now).ok_or_else(|| RetryRefusal::NotFound(job_id.clone()))?;
    let replayed = match submit(jobs, executions, &record).await? {
        Submitted::Started => None,
        Submitted::Duplicate { status } => Some(status),
        Submitted::Conflict => {
            return Err(RetryRefusal::NotRetryable {
                job_id: job_id.clone(),
                status: old.status,
                reason: format!("job {} exists with another form", record.job_id),
            }
            .into())
        }
    };
    jobs.patch(job_id, JobPatch::RetriedBy(record.job_id.clone()), None)
        .await?;
    info!(retry = %record.job_id, from_phase = %plan.from_phase, reused = plan.reused.len(), ?replayed, "job retried");
    Ok(Retried {
        job_id: record.job_id,
        retry_of: job_id.clone(),
        from_phase: plan.from_phase,
        reused: plan.reused.iter().map(|r| r.name.clone()).collect(),
        replayed,
    })
}

#[cfg(test)]
#[path = "retry_tests.rs"]
mod tests;
