//! `recoflow promote RESULT_SET VERSION --reason R`: makes a held or superseded version the
//! one served (`POST /result-sets/{result_set}/versions/{version}/promote`). A change the API
//! refuses (already current, expired, discarded, the pointer moved) exits 1: nothing changed.

use clap::Args;
use serde_json::{json, Value};

use crate::context::Context;
use crate::exit::CliError;
use crate::output::{field, Report};
use crate::routes::PROMOTE_VERSION;

#[derive(Debug, Args)]
pub struct PromoteArgs {
    pub result_set: String,
    pub version: String,
    /// Why this version should be served (kept with the version)
    #[arg(long, value_name = "TEXT")]
    pub reason: String,
}

pub async fn run(args: PromoteArgs, ctx: &Context) -> Result<Report, CliError> {
    let body = json!({ "reason": args.reason }).to_string().into_bytes();
    let call = PROMOTE_VERSION
        .call(&[&args.result_set, &args.version])
        .json_body(body);
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(switched(&answer), answer))
}

/// What a promote or rollback did: the version served now and the one it replaced.
pub fn switched(answer: &Value) -> String {
    format!(
        "{} now serves version {} (was {}); the API serves it within 5 s\n",
        field(answer, "result_set"),
        field(answer, "current_version"),
        field(answer, "previous_version"),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_switch_names_both_versions() {
        let answer = json!({"result_set": "spring", "current_version": "v3", "previous_version": "v2"});
        assert_eq!(
            switched(&answer),
            "spring now serves version v3 (was v2); the API serves it within 5 s\n"
        );
    }
}
