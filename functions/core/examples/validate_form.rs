//! Validates form files the way recoflow does and prints every problem:
//! `cargo run -p recoflow-core --example validate_form -- [--allow BUCKET,...] FORM.json...`
//! Exit status 1 when any form is invalid (usable as a CI check for a repository of forms).

use recoflow_core::validation::{validate_form, ValidationRules};

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let mut rules = ValidationRules::from_allow_list("recoflow-data-000000000000");
    if let Some(i) = args.iter().position(|a| a == "--allow") {
        if i + 1 >= args.len() {
            eprintln!("--allow needs a comma-separated list of buckets");
            std::process::exit(2);
        }
        rules = ValidationRules::from_allow_list(&args.remove(i + 1));
        args.remove(i);
    }
    let mut invalid = 0;
    for path in &args {
        let bytes = match std::fs::read(path) {
            Ok(bytes) => bytes,
            Err(err) => {
                eprintln!("{path}: cannot read: {err}");
                invalid += 1;
                continue;
            }
        };
        match validate_form(&bytes, &rules) {
            Ok(form) => println!(
                "{path}: valid ({} job \"{}\")",
                serde_json::to_string(&form.backend).unwrap_or_default(),
                form.job_name
            ),
            Err(problems) => {
                invalid += 1;
                println!("{path}: {} problem(s)", problems.len());
                for p in problems {
                    println!("  {} [{}] {}", p.path, p.code, p.message);
                }
            }
        }
    }
    std::process::exit(if invalid > 0 { 1 } else { 0 });
}
