//! The runner's entry: each task of statemachines/job.asl.json (and of the EventBridge rule)
//! goes to the file of its state, in a span that puts the job id on every log line.

use recoflow_core::task::RunnerTask;
use tracing::Instrument;

use crate::acquire::acquire;
use crate::advance::advance;
use crate::cleanup::cleanup;
use crate::error::RunnerError;
use crate::ports::RunnerPorts;
use crate::release::release;
use crate::step::RunnerOutput;
use crate::sweep::sweep;
use crate::wait_for_quota::wait_for_quota;

pub async fn handle<P: RunnerPorts>(ports: &P, task: RunnerTask) -> Result<RunnerOutput, RunnerError> {
    let job_id = task.job_id().map(ToString::to_string).unwrap_or_default();
    let span = tracing::info_span!("runner", job_id = %job_id);
    async {
        match task {
            RunnerTask::Acquire { job_id, phase } => acquire(ports, &job_id, phase).await,
            RunnerTask::WaitForQuota { job_id, phase, token } => {
                wait_for_quota(ports, &job_id, phase, &token).await
            }
            RunnerTask::Advance { job_id, phase } => {
                advance(ports, &job_id, phase).await.map(RunnerOutput::Progress)
            }
            RunnerTask::Release { job_id, phase } => release(ports, &job_id, phase).await,
            RunnerTask::Cleanup {
                job_id,
                execution_status,
            } => cleanup(ports, &job_id, execution_status.as_deref()).await,
            RunnerTask::Sweep => sweep(ports).await,
        }
    }
    .instrument(span)
    .await
}
