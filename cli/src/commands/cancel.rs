//! `recoflow cancel JOB`: `DELETE /jobs/{id}`. Exit 0 when the job is cancelled (now or
//! before), 1 when it had already finished (nothing changed), 4 when there is no such job.

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report};
use crate::routes::CANCEL_JOB;

#[derive(Debug, Args)]
pub struct CancelArgs {
    /// The job id
    pub job: String,
}

pub async fn run(args: CancelArgs, ctx: &Context) -> Result<Report, CliError> {
    let answer = ctx.api().await?.send(CANCEL_JOB.call(&[&args.job])).await?;
    let text = render(answer.status, &answer.body);
    Ok(Report::ok(text, answer.body))
}

fn render(status: u16, body: &Value) -> String {
    let id = field(body, "job_id");
    if status != 202 {
        let by = body
            .get("cancellation")
            .map(|c| format!(" by {} at {}", field(c, "by"), field(c, "at")));
        return format!("job {id} was already cancelled{}\n", by.unwrap_or_default());
    }
    let list = |name: &str| {
        let items: Vec<String> = body
            .get(name)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_owned))
            .collect();
        if items.is_empty() {
            "none".to_owned()
        } else {
            items.join(", ")
        }
    };
    format!(
        "job {id} cancelled\nquota released: {}\nstopping: {}\n",
        list("released_pools"),
        list("stopping")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn cancellations_say_what_was_stopped() {
        let body = json!({"job_id": "j", "status": "CANCELLED", "released_pools": ["personalize-dataset-imports"], "stopping": []});
        assert_eq!(
            render(202, &body),
            "job j cancelled\nquota released: personalize-dataset-imports\nstopping: none\n"
        );
        let again = json!({"job_id": "j", "status": "CANCELLED", "cancellation": {"by": "ana", "at": "t"}});
        assert_eq!(render(200, &again), "job j was already cancelled by ana at t\n");
    }
}
