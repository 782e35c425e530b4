//! The command line: every command and flag, declared once (clap derive). A new command is a
//! variant of [`Command`] with its arguments in its own module under `commands/`, and an arm in
//! `commands::run`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::commands::{
    audience, audience_users, cancel, completions, discard, jobs, placement_metrics, placements, promote,
    recommend, recommend_placement, result_sets, retry, rollback, schedule, schedules, similar, status,
    submit, trigger, triggers, validate, versions,
};
use crate::exit::EXIT_CODES_HELP;

#[derive(Debug, Parser)]
#[command(
    name = "recoflow",
    version,
    about = "Validate, submit and follow recoflow jobs; read recommendations; promote, roll back and discard versions.",
    after_help = EXIT_CODES_HELP,
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check forms with the service's own validation; every problem with its path and code.
    Validate(validate::ValidateArgs),
    /// Submit a form through the API (signed with SigV4) or by upload to the forms bucket.
    Submit(submit::SubmitArgs),
    /// A job's status, time in it, history, and the cause and its class when it failed.
    Status(status::StatusArgs),
    /// Recent jobs, newest first.
    Jobs(jobs::JobsArgs),
    /// Cancel a running job (its execution stops, its quota slots are freed).
    Cancel(cancel::CancelArgs),
    /// Run a failed job again from the phase that failed, reusing what it finished.
    Retry(retry::RetryArgs),
    /// A user's recommendations from a result set.
    Recommend(recommend::RecommendArgs),
    /// The result sets, the version each serves and how old it is, their last job.
    ResultSets(result_sets::ResultSetsArgs),
    /// A result set's versions, newest first: state, quality gate, metrics, who promoted them.
    Versions(versions::VersionsArgs),
    /// Serve a held or superseded version (with the reason why).
    Promote(promote::PromoteArgs),
    /// Serve again the version that was current before the current one.
    Rollback(rollback::RollbackArgs),
    /// Discard a held version: it is never served.
    Discard(discard::DiscardArgs),
    /// The audiences a result set serves: size, when made, users by segment column.
    Audience(audience::AudienceArgs),
    /// An audience's users, best first, a page at a time.
    AudienceUsers(audience_users::AudienceUsersArgs),
    /// The items most similar to an item (or its category's popular items).
    Similar(similar::SimilarArgs),
    /// The recurring forms' schedules: state, next run, last run.
    Schedules(schedules::SchedulesArgs),
    /// One schedule: show it, pause, resume or delete it.
    Schedule(schedule::ScheduleArgs),
    /// The data-driven forms' triggers: state, what they watch, last run.
    Triggers(triggers::TriggersArgs),
    /// One data-driven form's trigger: show it or delete it.
    Trigger(trigger::TriggerArgs),
    /// Placements: list, show, apply (store) or delete one; validate files locally for CI.
    Placements(placements::PlacementsArgs),
    /// What a placement shows a user: its arm, the items (with their team when interleaved), the recommendation_id.
    RecommendPlacement(recommend_placement::RecommendPlacementArgs),
    /// A placement's KPIs per arm with 95 % intervals, its test's p-values.
    PlacementMetrics(placement_metrics::PlacementMetricsArgs),
    /// Print a shell completion script: `recoflow completions bash > /etc/bash_completion.d/recoflow`.
    Completions(completions::CompletionsArgs),
}

/// Where and how to talk to recoflow; each also comes from a `RECOFLOW_*` variable or the
/// config file (flags first, then the environment, then the file).
#[derive(Debug, Default, Clone, Args)]
pub struct GlobalArgs {
    /// CloudFormation stack whose outputs give the API URL and buckets [env: RECOFLOW_STACK]
    #[arg(long, global = true, value_name = "NAME")]
    pub stack: Option<String>,
    /// The local stack (LocalStack at $LOCALSTACK_ENDPOINT or 127.0.0.1:4566, stack "recoflow") [env: RECOFLOW_LOCAL]
    #[arg(long, global = true)]
    pub local: bool,
    /// The API's base URL, instead of the stack's ApiUrl output [env: RECOFLOW_API_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub api_url: Option<String>,
    /// AWS endpoint for CloudFormation and S3, e.g. LocalStack's [env: RECOFLOW_ENDPOINT_URL]
    #[arg(long, global = true, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// AWS region (default: the AWS configuration's) [env: RECOFLOW_REGION]
    #[arg(long, global = true)]
    pub region: Option<String>,
    /// AWS profile for credentials (default: the standard chain) [env: RECOFLOW_PROFILE]
    #[arg(long, global = true, value_name = "NAME")]
    pub profile: Option<String>,
    /// Longest wait for one answer, 1-300 s (default 30) [env: RECOFLOW_TIMEOUT]
    #[arg(long, global = true, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..=300))]
    pub timeout: Option<u64>,
    /// Config file (default ~/.config/recoflow/config.toml) [env: RECOFLOW_CONFIG]
    #[arg(long, global = true, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// JSON on stdout instead of tables (for scripts)
    #[arg(long, global = true)]
    pub json: bool,
    /// `validate --allow-bucket`, carried here to be resolved with the other settings.
    #[arg(skip)]
    pub allow_bucket: Vec<String>,
    /// `validate --allow-image-repository`, likewise.
    #[arg(skip)]
    pub allow_image_repository: Vec<String>,
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::*;

    fn parse(args: &[&str]) -> Result<Cli, clap::Error> {
        Cli::try_parse_from(std::iter::once("recoflow").chain(args.iter().copied()))
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn global_flags_go_anywhere() {
        let cli = parse(&["status", "job-1", "--stack", "prod", "--json", "--follow"]).unwrap();
        assert_eq!(cli.global.stack.as_deref(), Some("prod"));
        assert!(cli.global.json);
        let Command::Status(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.job, "job-1");
        assert!(args.follow);
        let cli = parse(&["--local", "jobs", "--limit", "5"]).unwrap();
        assert!(cli.global.local);
        let Command::Jobs(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.page.limit, Some(5));
    }

    #[test]
    fn submit_takes_a_route_a_key_and_wait() {
        let cli = parse(&["submit", "f.json", "--via", "s3", "--wait"]).unwrap();
        let Command::Submit(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.via, submit::Via::S3);
        assert!(args.wait);
        let cli = parse(&["submit", "f.json", "--idempotency-key", "k-1"]).unwrap();
        let Command::Submit(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.via, submit::Via::Api);
        assert_eq!(args.idempotency_key.as_deref(), Some("k-1"));
    }

    #[test]
    fn recommend_takes_attributes_as_pairs() {
        let cli = parse(&[
            "recommend",
            "rs",
            "u1",
            "--n",
            "5",
            "--attr",
            "gender=F",
            "--attr",
            "age=27",
        ])
        .unwrap();
        let Command::Recommend(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.n, Some(5));
        assert_eq!(
            args.attr,
            [
                ("gender".to_owned(), "F".to_owned()),
                ("age".to_owned(), "27".to_owned())
            ]
        );
    }

    #[test]
    fn version_commands_take_their_result_set_version_and_reason() {
        let cli = parse(&["promote", "spring", "v3", "--reason", "intended"]).unwrap();
        let Command::Promote(args) = cli.command else {
            panic!()
        };
        assert_eq!(
            (
                args.result_set.as_str(),
                args.version.as_str(),
                args.reason.as_str()
            ),
            ("spring", "v3", "intended")
        );
        let cli = parse(&["rollback", "spring"]).unwrap();
        let Command::Rollback(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.reason, None);
        assert!(matches!(
            parse(&["result-sets", "--limit", "5"]).unwrap().command,
            Command::ResultSets(_)
        ));
        assert!(matches!(
            parse(&["versions", "spring"]).unwrap().command,
            Command::Versions(_)
        ));
        assert!(matches!(
            parse(&["discard", "spring", "v3"]).unwrap().command,
            Command::Discard(_)
        ));
    }

    #[test]
    fn validate_takes_formats_and_buckets() {
        let cli = parse(&[
            "validate",
            "a.json",
            "dir/",
            "--format",
            "github",
            "--allow-bucket",
            "b1",
            "--allow-image-repository",
            "r1,r2",
        ])
        .unwrap();
        let Command::Validate(args) = cli.command else {
            panic!()
        };
        assert_eq!(args.forms.len(), 2);
        assert_eq!(args.format, Some(validate::Format::Github));
        assert_eq!(args.allow_bucket, ["b1"]);
        assert_eq!(args.allow_image_repository, ["r1,r2"]);
    }

    #[test]
    fn bad_command_lines_are_usage_errors() {
        for args in [
            &["submit"][..],
            &["submit", "f.json", "--via", "ftp"],
            &["jobs", "--limit", "0"],
            &["jobs", "--limit", "101"],
            &["recommend", "rs", "u1", "--attr", "gender"],
            &["recommend", "rs", "u1", "--n", "0"],
            &["validate"],
            &["completions", "cmd.exe"],
            &["frobnicate"],
            &["--timeout", "0", "jobs"],
            &["promote", "spring", "v3"],
            &["promote", "spring"],
            &["versions"],
            &["discard", "spring"],
            &["result-sets", "--limit", "0"],
        ] {
            let err = parse(args).expect_err(&format!("{args:?} should not parse"));
            assert_eq!(err.exit_code(), 2, "{args:?}: {err}");
        }
    }

    #[test]
    fn help_lists_the_exit_codes() {
        let help = Cli::command().render_long_help().to_string();
        assert!(help.contains("Exit codes:"));
        assert!(help.contains("RECOFLOW_STACK"));
    }
}
