//! What a phase needs before it launches, asked for in turn: a Personalize import first takes
//! its datasets (a job waiting for them should not sit on an import slot meanwhile), then the
//! phase takes its units of its pool. `AcquireQuota` asks without a token; `WaitForQuota` asks
//! with its state's token, so a job that has to wait takes its place in the queue.

use recoflow_core::clock::Clock;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobRecord;
use recoflow_core::phase::Phase;
use recoflow_core::quota::{Pool, SlotHolder};
use recoflow_core::task::TaskToken;

use crate::datasets;
use crate::error::RunnerError;
use crate::pool_capacity::pool_limit;
use crate::ports::RunnerPorts;
use crate::turn::{take_turn, Turn, Waiting};

/// Where the phase stands, with what the job's history says of it.
#[derive(Debug, Clone, PartialEq)]
pub enum Claim {
    /// It holds what it needs (or needs nothing).
    Holds(String),
    /// It waits.
    Waits(String),
}

pub async fn claim<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    phase: Phase,
    token: Option<&TaskToken>,
) -> Result<Claim, RunnerError> {
    if let Some(waiting_for_datasets) = datasets::take_or_keep(ports, record, form, phase, token).await? {
        return Ok(Claim::Waits(waiting_for_datasets));
    }
    let Some((pool, units)) = Pool::for_phase(form, phase) else {
        return Ok(Claim::Holds("no quota pool for this phase".to_owned()));
    };
    let limit = pool_limit(ports, &pool).await?;
    if units > limit {
        return Err(RunnerError::LaunchInvalid(format!(
            "the {phase} phase needs {units} units of pool {pool}, whose limit is {limit}: it could never run"
        )));
    }
    let holder = SlotHolder::new(
        &record.job_id,
        phase,
        units,
        ports.clock().unix_now(),
        ports.settings().lease_seconds,
    );
    match take_turn(ports, record, &pool, &holder, token).await? {
        Turn::Holds => Ok(Claim::Holds(format!(
            "quota slot taken in {pool} ({units} of {limit})"
        ))),
        Turn::Waits(waiting) => Ok(Claim::Waits(waiting_detail(&pool, form, &waiting))),
    }
}

/// What a job waiting for a pool's units is shown waiting for.
fn waiting_detail(pool: &Pool, form: &JobForm, waiting: &Waiting) -> String {
    format!(
        "waiting for quota in {pool}: place {} in its queue (priority {}), {} of {} units held by recoflow jobs, {} by jobs started elsewhere",
        waiting.position,
        form.priority.as_str(),
        waiting.state.used,
        waiting.capacity.limit,
        waiting.capacity.external
    )
}
