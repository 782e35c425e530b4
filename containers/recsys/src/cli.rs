//! Argument parsing and dispatch. Exit codes: 0 success, 1 the job failed, 2 usage error.

use crate::audience::{self, AudienceOptions};
use crate::env::{Env, TrainPaths};
use crate::error::Error;
use crate::gen::{self, GenOptions};
use crate::score::{self, ScoreOptions};
use crate::similar::{self, SimilarOptions};
use crate::train;
use std::path::{Path, PathBuf};

pub const USAGE: &str = "\
usage: recsys <command> [flags]

commands:
  train   train on /opt/ml/input/data/{interactions,users,items}, write /opt/ml/model
          (SageMaker training contract; paths from SM_* env vars, RECSYS_OPT_ML)
  score   batch recommendations, Amazon Personalize batch-inference format
          --model-dir DIR     [$RECSYS_MODEL_DIR, <opt_ml>/processing/input/model]
          --input PATH        [$RECSYS_INPUT, <opt_ml>/processing/input/users]  JSON lines {\"userId\":..}
          --output DIR        [$RECSYS_OUTPUT, <opt_ml>/processing/output]      writes <input name>.out
          --num-results N     [$RECSYS_NUM_RESULTS, 25]
  similar items most similar to each item, Personalize aws-similar-items batch format
          --model-dir DIR     [$RECSYS_MODEL_DIR, <opt_ml>/processing/input/model]
          --input PATH        [$RECSYS_INPUT, <opt_ml>/processing/input/items]  JSON lines {\"itemId\":..}
          --output DIR        [$RECSYS_OUTPUT, <opt_ml>/processing/output]      writes <input name>.out
          --num-results N     [$RECSYS_NUM_RESULTS, 25]
  audience users most drawn to each item or item filter, Personalize batch segment format
          --model-dir DIR     [$RECSYS_MODEL_DIR, <opt_ml>/processing/input/model]
          --items PATH        [$RECSYS_ITEMS, <opt_ml>/processing/input/items]  {\"itemId\":..} or {\"itemAttributes\":..}
          --users PATH        [$RECSYS_USERS, <opt_ml>/processing/input/users]  the candidates, {\"userId\":..}
          --catalog PATH      [$RECSYS_CATALOG, <opt_ml>/processing/input/catalog]  items CSV, for itemAttributes
          --output DIR        [$RECSYS_OUTPUT, <opt_ml>/processing/output]      writes <items name>.out
          --num-results N     [$RECSYS_NUM_RESULTS, 25]   users per item, at most
          --min-score S       [$RECSYS_MIN_SCORE]         leave out users below this affinity
  gen     synthetic data set: interactions.csv users.csv items.csv users-to-score.jsonl
          --users N (200) --items N (100) --interactions-per-user N (10) --seed N (42)
          --cold-start-fraction F (0.05) --out DIR (.)

<opt_ml> is $RECSYS_OPT_ML or /opt/ml.
";

pub fn run(args: &[String], env: &Env) -> i32 {
    let Some((command, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return 2;
    };
    if rest.iter().any(|a| a == "--help" || a == "-h") {
        print!("{USAGE}");
        return 0;
    }
    let flags = match parse_flags(rest) {
        Ok(flags) => flags,
        Err(e) => return usage_error(&e),
    };
    match command.as_str() {
        "train" => run_train(&flags, env),
        "score" => run_score(&flags, env),
        "similar" => run_similar(&flags, env),
        "audience" => run_audience(&flags, env),
        "gen" => run_gen(&flags),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            0
        }
        "--version" | "-V" => {
            println!("recsys {}", env!("CARGO_PKG_VERSION"));
            0
        }
        other => usage_error(&format!("unknown command {other:?}")),
    }
}

fn usage_error(message: &str) -> i32 {
    eprintln!("recsys: {message}\n\n{USAGE}");
    2
}

/// `--name value` or `--name=value` pairs, in order.
fn parse_flags(args: &[String]) -> Result<Vec<(String, String)>, String> {
    let mut flags = Vec::new();
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        let Some(name) = arg.strip_prefix("--") else {
            return Err(format!("unexpected argument {arg:?}"));
        };
        let (name, value) = match name.split_once('=') {
            Some((n, v)) => (n.to_string(), v.to_string()),
            None => {
                let value = iter.next().ok_or_else(|| format!("--{name} needs a value"))?;
                (name.to_string(), value.clone())
            }
        };
        flags.push((name, value));
    }
    Ok(flags)
}

struct Flags<'a>(&'a [(String, String)], &'a [&'a str]);

impl Flags<'_> {
    fn check(&self) -> Result<(), String> {
        match self.0.iter().find(|(n, _)| !self.1.contains(&n.as_str())) {
            Some((n, _)) => Err(format!("unknown flag --{n}")),
            None => Ok(()),
        }
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .rev()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn parse<T: std::str::FromStr>(&self, name: &str, default: T) -> Result<T, String> {
        match self.get(name) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| format!("--{name}: invalid value {v:?}")),
        }
    }
}

fn run_train(flags: &[(String, String)], env: &Env) -> i32 {
    if let Err(e) = Flags(flags, &[]).check() {
        return usage_error(&e);
    }
    let paths = TrainPaths::resolve(env);
    match train::train(&paths) {
        Ok(stats) => {
            println!(
                "{}",
                serde_json::json!({"trained": stats, "modelDir": paths.model_dir})
            );
            0
        }
        Err(e) => fail(&e, &paths.failure_file),
    }
}

/// A path from its flag, else its variable, else `<opt_ml>/<default>`.
fn path_of(f: &Flags, env: &Env, flag: &str, var: &str, default: &str) -> PathBuf {
    f.get(flag)
        .map(PathBuf::from)
        .or_else(|| env.path(var))
        .unwrap_or_else(|| env.opt_ml().join(default))
}

/// `--num-results` or `$RECSYS_NUM_RESULTS`, 25 when neither is set.
fn num_results(f: &Flags, env: &Env) -> Result<usize, String> {
    match f
        .get("num-results")
        .or_else(|| env.get("RECSYS_NUM_RESULTS"))
        .map(str::parse::<usize>)
    {
        None => Ok(25),
        Some(Ok(n)) if n > 0 => Ok(n),
        Some(_) => Err("--num-results / RECSYS_NUM_RESULTS must be a positive integer".into()),
    }
}

/// Runs a processing command: its summary on stdout, or its failure where SageMaker
/// Processing reports it (`/opt/ml/output/message`, the job's ExitMessage).
fn report<T: serde::Serialize>(result: crate::error::Result<T>, key: &str, output: &Path, env: &Env) -> i32 {
    match result {
        Ok(summary) => {
            println!("{}", serde_json::json!({key: summary, "output": output}));
            0
        }
        Err(e) => fail(&e, &env.output_dir().join("message")),
    }
}

fn run_score(flags: &[(String, String)], env: &Env) -> i32 {
    let f = Flags(flags, &["model-dir", "input", "output", "num-results"]);
    let opts = (|| {
        let num_results = num_results(&f, env)?;
        f.check()?;
        Ok::<_, String>(ScoreOptions {
            model: path_of(&f, env, "model-dir", "RECSYS_MODEL_DIR", "processing/input/model"),
            input: path_of(&f, env, "input", "RECSYS_INPUT", "processing/input/users"),
            output: path_of(&f, env, "output", "RECSYS_OUTPUT", "processing/output"),
            num_results,
        })
    })();
    match opts {
        Ok(opts) => report(score::score(&opts), "scored", &opts.output, env),
        Err(e) => usage_error(&e),
    }
}

fn run_similar(flags: &[(String, String)], env: &Env) -> i32 {
    let f = Flags(flags, &["model-dir", "input", "output", "num-results"]);
    let opts = (|| {
        let num_results = num_results(&f, env)?;
        f.check()?;
        Ok::<_, String>(SimilarOptions {
            model: path_of(&f, env, "model-dir", "RECSYS_MODEL_DIR", "processing/input/model"),
            input: path_of(&f, env, "input", "RECSYS_INPUT", "processing/input/items"),
            output: path_of(&f, env, "output", "RECSYS_OUTPUT", "processing/output"),
            num_results,
        })
    })();
    match opts {
        Ok(opts) => report(similar::similar(&opts), "similar", &opts.output, env),
        Err(e) => usage_error(&e),
    }
}

fn run_audience(flags: &[(String, String)], env: &Env) -> i32 {
    let f = Flags(
        flags,
        &[
            "model-dir",
            "items",
            "users",
            "catalog",
            "output",
            "num-results",
            "min-score",
        ],
    );
    let opts = (|| {
        let num_results = num_results(&f, env)?;
        let min_score = match f.get("min-score").or_else(|| env.get("RECSYS_MIN_SCORE")) {
            None => None,
            Some(s) => Some(
                s.parse::<f64>()
                    .ok()
                    .filter(|s| s.is_finite())
                    .ok_or_else(|| format!("--min-score / RECSYS_MIN_SCORE: invalid value {s:?}"))?,
            ),
        };
        f.check()?;
        Ok::<_, String>(AudienceOptions {
            model: path_of(&f, env, "model-dir", "RECSYS_MODEL_DIR", "processing/input/model"),
            items: path_of(&f, env, "items", "RECSYS_ITEMS", "processing/input/items"),
            users: path_of(&f, env, "users", "RECSYS_USERS", "processing/input/users"),
            catalog: Some(path_of(
                &f,
                env,
                "catalog",
                "RECSYS_CATALOG",
                "processing/input/catalog",
            )),
            output: path_of(&f, env, "output", "RECSYS_OUTPUT", "processing/output"),
            num_results,
            min_score,
        })
    })();
    match opts {
        Ok(opts) => report(audience::audience(&opts), "audience", &opts.output, env),
        Err(e) => usage_error(&e),
    }
}

fn run_gen(flags: &[(String, String)]) -> i32 {
    let f = Flags(
        flags,
        &[
            "users",
            "items",
            "interactions-per-user",
            "seed",
            "cold-start-fraction",
            "out",
        ],
    );
    let d = GenOptions::default();
    let opts = (|| {
        f.check()?;
        Ok::<_, String>(GenOptions {
            users: f.parse("users", d.users)?,
            items: f.parse("items", d.items)?,
            interactions_per_user: f.parse("interactions-per-user", d.interactions_per_user)?,
            seed: f.parse("seed", d.seed)?,
            cold_start_fraction: f.parse("cold-start-fraction", d.cold_start_fraction)?,
            out: f.get("out").map(PathBuf::from).unwrap_or(d.out),
        })
    })();
    let opts = match opts {
        Ok(o) => o,
        Err(e) => return usage_error(&e),
    };
    match gen::generate(&opts) {
        Ok(summary) => {
            println!("{}", serde_json::json!({"generated": summary, "out": opts.out}));
            0
        }
        Err(e) => {
            eprintln!("recsys gen: {e}");
            1
        }
    }
}

/// Logs the error and writes it where SageMaker picks up a failure reason. Writing there
/// is best effort: the non-zero exit code is what marks the job failed.
fn fail(error: &Error, file: &Path) -> i32 {
    let message = error.to_string();
    eprintln!("recsys: {message}");
    let written = file
        .parent()
        .map_or(Ok(()), std::fs::create_dir_all)
        .and_then(|_| std::fs::write(file, &message));
    if let Err(e) = written {
        eprintln!("recsys: cannot write failure reason to {}: {e}", file.display());
    }
    1
}
