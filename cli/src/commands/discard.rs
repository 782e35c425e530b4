//! `recoflow discard RESULT_SET VERSION`: discards a held version, which is then never served
//! (`DELETE /result-sets/{result_set}/versions/{version}`); exits 1 for a version that is not
//! held (nothing changed).

use clap::Args;
use serde_json::Value;

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report};
use crate::routes::DISCARD_VERSION;

#[derive(Debug, Args)]
pub struct DiscardArgs {
    pub result_set: String,
    pub version: String,
}

pub async fn run(args: DiscardArgs, ctx: &Context) -> Result<Report, CliError> {
    let call = DISCARD_VERSION.call(&[&args.result_set, &args.version]);
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(render(&answer), answer))
}

fn render(answer: &Value) -> String {
    let version = answer.get("version").cloned().unwrap_or(Value::Null);
    let by = version
        .get("discarded")
        .filter(|d| d.is_object())
        .map(|d| format!(" by {} at {}", field(d, "by"), field(d, "at")))
        .unwrap_or_default();
    format!(
        "version {} of {} is {}{by}\n",
        field(&version, "version"),
        field(answer, "result_set"),
        field(&version, "state")
    )
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn a_discard_says_who_and_when() {
        let answer = json!({"result_set": "spring", "version": {"version": "v3", "state": "DISCARDED",
            "discarded": {"by": "ana", "at": "t"}}});
        assert_eq!(render(&answer), "version v3 of spring is DISCARDED by ana at t\n");
    }
}
