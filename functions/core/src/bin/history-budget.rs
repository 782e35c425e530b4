//! `history-budget [--template infra/template.yaml] [Name=Value ...]`: refuses (exit 1) timing
//! parameters with which the longest job could outgrow one Step Functions execution. The deploy
//! scripts run it with the parameter overrides they deploy with.

use recoflow_core::history::{check, timings_from, HISTORY_BUDGET};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut template_path = "infra/template.yaml".to_owned();
    if let Some(i) = args.iter().position(|a| a == "--template") {
        args.remove(i);
        if i < args.len() {
            template_path = args.remove(i);
        }
    }
    let outcome = std::fs::read_to_string(&template_path)
        .map_err(|e| format!("cannot read {template_path}: {e}"))
        .and_then(|template| timings_from(&template, &args))
        .and_then(|timings| check(&timings));
    match outcome {
        Ok(counts) => {
            let shown: Vec<String> = counts.iter().map(|(b, n)| format!("{b:?} {n}")).collect();
            println!(
                "history-budget: longest job's history events: {} (at most {HISTORY_BUDGET})",
                shown.join(", ")
            );
        }
        Err(err) => {
            eprintln!("history-budget: {err}");
            std::process::exit(1);
        }
    }
}
