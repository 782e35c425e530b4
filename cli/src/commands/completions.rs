//! `recoflow completions SHELL`: the shell's completion script on stdout.

use clap::{Args, CommandFactory};
use clap_complete::Shell;

use crate::cli::Cli;
use crate::output::Report;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    pub shell: Shell,
}

pub fn run(args: CompletionsArgs) -> Report {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "recoflow", &mut script);
    let script = String::from_utf8_lossy(&script).into_owned();
    Report::ok(script.clone(), serde_json::Value::String(script))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bash_completes_the_commands() {
        let report = run(CompletionsArgs { shell: Shell::Bash });
        for command in ["validate", "submit", "status", "jobs", "cancel", "recommend"] {
            assert!(report.text.contains(command), "{command}");
        }
        assert!(report.text.contains("--idempotency-key"));
    }
}
