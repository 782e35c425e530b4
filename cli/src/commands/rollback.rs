//! `recoflow rollback RESULT_SET [--reason R]`: serves again the version that was current
//! before the current one (`POST /result-sets/{result_set}/rollback`); exits 1 when there is
//! none or it cannot be served (nothing changed).

use clap::Args;
use serde_json::json;

use super::promote::switched;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::Report;
use crate::routes::ROLL_BACK;

#[derive(Debug, Args)]
pub struct RollbackArgs {
    pub result_set: String,
    /// Why (kept with the version rolled back to)
    #[arg(long, value_name = "TEXT")]
    pub reason: Option<String>,
}

pub async fn run(args: RollbackArgs, ctx: &Context) -> Result<Report, CliError> {
    let mut call = ROLL_BACK.call(&[&args.result_set]);
    if let Some(reason) = &args.reason {
        call = call.json_body(json!({ "reason": reason }).to_string().into_bytes());
    }
    let answer = ctx.api().await?.send(call).await?.body;
    Ok(Report::ok(switched(&answer), answer))
}
