//! The commands, one module each; `run` dispatches. A command for a new route: its module
//! (arguments + `run`), a variant in `cli::Command`, an arm here, a constant in `routes`.

pub mod audience;
pub mod audience_users;
pub mod cancel;
pub mod completions;
pub mod discard;
mod follow;
pub mod jobs;
mod locate;
mod paging;
pub mod placement_metrics;
pub mod placements;
pub mod promote;
pub mod recommend;
pub mod recommend_placement;
pub mod result_sets;
pub mod retry;
pub mod rollback;
pub mod schedule;
pub mod schedules;
pub mod similar;
pub mod status;
pub mod submit;
pub mod trigger;
pub mod triggers;
pub mod validate;
pub mod versions;

use crate::cli::Command;
use crate::context::Context;
use crate::exit::CliError;
use crate::output::Report;

pub async fn run(command: Command, ctx: &Context) -> Result<Report, CliError> {
    match command {
        Command::Validate(args) => validate::run(args, ctx).await,
        Command::Submit(args) => submit::run(args, ctx).await,
        Command::Status(args) => status::run(args, ctx).await,
        Command::Jobs(args) => jobs::run(args, ctx).await,
        Command::Cancel(args) => cancel::run(args, ctx).await,
        Command::Retry(args) => retry::run(args, ctx).await,
        Command::Recommend(args) => recommend::run(args, ctx).await,
        Command::ResultSets(args) => result_sets::run(args, ctx).await,
        Command::Versions(args) => versions::run(args, ctx).await,
        Command::Promote(args) => promote::run(args, ctx).await,
        Command::Rollback(args) => rollback::run(args, ctx).await,
        Command::Discard(args) => discard::run(args, ctx).await,
        Command::Audience(args) => audience::run(args, ctx).await,
        Command::AudienceUsers(args) => audience_users::run(args, ctx).await,
        Command::Similar(args) => similar::run(args, ctx).await,
        Command::Schedules(args) => schedules::run(args, ctx).await,
        Command::Schedule(args) => schedule::run(args, ctx).await,
        Command::Trigger(args) => trigger::run(args, ctx).await,
        Command::Triggers(args) => triggers::run(args, ctx).await,
        Command::Placements(args) => placements::run(args, ctx).await,
        Command::RecommendPlacement(args) => recommend_placement::run(args, ctx).await,
        Command::PlacementMetrics(args) => placement_metrics::run(args, ctx).await,
        Command::Completions(args) => Ok(completions::run(args)),
    }
}
