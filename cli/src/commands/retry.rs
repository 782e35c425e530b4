//! `recoflow retry JOB [--from-phase PHASE]`: `POST /jobs/{id}/retry`. A new job that reuses
//! what JOB finished (its trained model, imported datasets, solution version) and starts at the
//! phase that failed, or at `--from-phase` (e.g. `score` to rescore a succeeded job with its
//! model). Exit 0 with the new job (the same one when asked again), 1 when the job still runs
//! or cannot be retried as asked, 4 when there is no such job.

use clap::{Args, ValueEnum};
use serde_json::{json, Value};

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report};
use crate::routes::RETRY_JOB;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum PhaseArg {
    Import,
    Train,
    Score,
}

impl PhaseArg {
    fn as_str(self) -> &'static str {
        match self {
            PhaseArg::Import => "import",
            PhaseArg::Train => "train",
            PhaseArg::Score => "score",
        }
    }
}

#[derive(Debug, Args)]
pub struct RetryArgs {
    /// The job id (FAILED or CANCELLED; SUCCEEDED with --from-phase)
    pub job: String,
    /// Start at this phase, reusing what the job made in the phases before it
    #[arg(long, value_enum, value_name = "PHASE")]
    pub from_phase: Option<PhaseArg>,
}

pub async fn run(args: RetryArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = RETRY_JOB.call(&[&args.job]);
    if let Some(phase) = args.from_phase {
        call = call.json_body(json!({ "from_phase": phase.as_str() }).to_string().into_bytes());
    }
    let answer = ctx.api().await?.send(call).await?;
    Ok(Report::ok(render(&answer.body), answer.body))
}

fn render(body: &Value) -> String {
    let reused: Vec<&str> = body
        .get("reused")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect();
    let again = if body["replayed"] == true {
        " (asked before)"
    } else {
        ""
    };
    format!(
        "job {} retries {} from phase {}{again}\nstatus: {}\nreused: {}\n",
        field(body, "job_id"),
        field(body, "retry_of"),
        field(body, "from_phase"),
        field(body, "status"),
        if reused.is_empty() {
            "nothing".to_owned()
        } else {
            reused.join(", ")
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_names_the_new_job_and_what_it_reuses() {
        let body = json!({"job_id": "j-retry-1", "retry_of": "j", "from_phase": "score", "status": "QUEUED",
                          "reused": ["rf-j-train-1"], "replayed": false});
        assert_eq!(
            render(&body),
            "job j-retry-1 retries j from phase score\nstatus: QUEUED\nreused: rf-j-train-1\n"
        );
        let again = json!({"job_id": "j-retry-1", "retry_of": "j", "from_phase": "train", "status": "TRAINING",
                           "reused": [], "replayed": true});
        assert!(render(&again).starts_with(
            "job j-retry-1 retries j from phase train (asked before)\nstatus: TRAINING\nreused: nothing"
        ));
    }
}
