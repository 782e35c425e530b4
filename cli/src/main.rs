//! `recoflow`: the command line of recoflow. See `recoflow --help` and the README.

mod api;
mod cli;
mod cloudformation;
mod commands;
mod config;
mod context;
mod exit;
mod http;
mod output;
mod routes;
mod sign;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use serde_json::json;

use crate::cli::{Cli, Command};
use crate::config::{default_config_path, load_config, Settings};
use crate::context::Context;
use crate::exit::CliError;

fn main() -> ExitCode {
    // clap exits 2 on a usage error, 0 for --help and --version.
    let mut cli = Cli::parse();
    if let Command::Validate(args) = &cli.command {
        cli.global.allow_bucket = args.allow_bucket.clone();
        cli.global.allow_image_repository = args.allow_image_repository.clone();
    }
    let json = cli.global.json;
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => return fail(&CliError::Unavailable(format!("cannot start: {err}")), json),
    };
    let outcome = runtime.block_on(async {
        let ctx = Context::new(settings(&cli)?, json);
        commands::run(cli.command, &ctx).await
    });
    match outcome {
        Ok(report) => ExitCode::from(report.print(json).code()),
        Err(err) => fail(&err, json),
    }
}

fn settings(cli: &Cli) -> Result<Settings, CliError> {
    let env = |name: &str| std::env::var(name).ok();
    let named = cli.global.config.clone().or_else(|| {
        env("RECOFLOW_CONFIG")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from)
    });
    let file = match (&named, default_config_path(&env)) {
        (Some(path), _) => load_config(path, true)?,
        (None, Some(path)) => load_config(&path, false)?,
        (None, None) => Default::default(),
    };
    Settings::resolve(&cli.global, &env, &file)
}

/// One line on stderr; with `--json`, the error as JSON on stdout too.
fn fail(err: &CliError, json: bool) -> ExitCode {
    let reason = err.to_string().split_whitespace().collect::<Vec<_>>().join(" ");
    if json {
        let body = match err {
            CliError::Api(api) => {
                json!({"error": {"code": api.code, "message": api.message, "status": api.status, "problems": api.problems}})
            }
            other => json!({"error": {"message": reason, "exit": other.exit().code()}}),
        };
        println!("{}", serde_json::to_string_pretty(&body).unwrap_or_default());
    }
    eprintln!("recoflow: {reason}");
    ExitCode::from(err.exit().code())
}
