//! `recoflow validate FORM|DIR... [--allow-bucket B] [--format text|json|github]`: the
//! service's own validation (`recoflow_core::validation`), every problem with its path, code
//! and line. Exit 3 when any form is invalid.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use recoflow_core::validation::{validate_form, FormProblem, ValidationRules};
use serde_json::{json, Value};

use super::locate::Lines;
use crate::context::Context;
use crate::exit::{CliError, Exit};
use crate::output::Report;

#[derive(Debug, Args)]
pub struct ValidateArgs {
    /// Form files, or folders whose *.json files (at any depth) are forms
    #[arg(required = true, value_name = "FORM")]
    pub forms: Vec<PathBuf>,
    /// A data bucket forms may read from (repeat or comma-separate) [env: RECOFLOW_ALLOW_BUCKETS]; default: the target's DataBucket
    #[arg(long, value_name = "BUCKET")]
    pub allow_bucket: Vec<String>,
    /// A repository container images may come from (repeat or comma-separate) [env: RECOFLOW_ALLOW_IMAGE_REPOSITORIES]; default: the target's ImageRepositories output
    #[arg(long, value_name = "REPOSITORY")]
    pub allow_image_repository: Vec<String>,
    /// text for people, json for scripts, github for workflow annotations (default text; --json means json)
    #[arg(long, value_enum)]
    pub format: Option<Format>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
    Github,
}

/// The problem code of bucket allow-list checks, skipped when no allow-list is known.
const BUCKET_NOT_ALLOWED: &str = "bucket_not_allowed";

/// One file checked: what it is when valid, else its problems with their lines.
pub(super) struct Checked {
    pub(super) file: String,
    /// What a valid document is, e.g. `personalize job "spring"`.
    pub(super) valid: Option<String>,
    pub(super) problems: Vec<(FormProblem, Option<usize>)>,
}

impl Format {
    /// The format asked, `--json` meaning json.
    pub(super) fn asked(format: Option<Format>, json: bool) -> Format {
        match (format, json) {
            (Some(format), _) => format,
            (None, true) => Format::Json,
            (None, false) => Format::Text,
        }
    }
}

pub async fn run(args: ValidateArgs, ctx: &Context) -> Result<Report, CliError> {
    let format = Format::asked(args.format, ctx.json);
    let files = json_files(&args.forms)?;
    let Rules {
        rules,
        buckets_checked,
        images_checked,
    } = rules(ctx).await?;
    let checked: Vec<Checked> = files
        .iter()
        .map(|path| {
            let bytes = std::fs::read(path)
                .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", path.display())))?;
            Ok(check(
                &path.display().to_string(),
                &bytes,
                &rules,
                buckets_checked,
            ))
        })
        .collect::<Result<_, CliError>>()?;
    let unchecked: Vec<&str> = [
        (!buckets_checked, "data buckets"),
        (!images_checked, "container images"),
    ]
    .into_iter()
    .filter_map(|(unchecked, what)| unchecked.then_some(what))
    .collect();
    let note = (!unchecked.is_empty()).then(|| {
        format!(
            "note: {} not checked (give --allow-bucket / --allow-image-repository, or a target: --stack or --local)\n",
            unchecked.join(" and ")
        )
    });
    let mut extra = serde_json::Map::new();
    extra.insert("buckets_checked".into(), json!(buckets_checked));
    extra.insert("images_checked".into(), json!(images_checked));
    Ok(report(&checked, format, "form", extra, note))
}

/// The report of checked documents (`noun`: what each is, `form` or `placement`): text,
/// GitHub annotations or JSON (`<noun>s`, `invalid` and `extra`), exit 3 when any is invalid.
pub(super) fn report(
    checked: &[Checked],
    format: Format,
    noun: &str,
    extra: serde_json::Map<String, Value>,
    note: Option<String>,
) -> Report {
    let invalid = checked.iter().filter(|c| c.valid.is_none()).count();
    let mut text = match format {
        Format::Text => text_report(checked),
        Format::Github => github_report(checked, noun),
        Format::Json => String::new(),
    };
    if let Some(note) = note.filter(|_| format != Format::Json) {
        text.push_str(&note);
    }
    let mut json = serde_json::Map::new();
    json.insert(format!("{noun}s"), checked.iter().map(json_entry).collect());
    json.insert("invalid".into(), json!(invalid));
    json.extend(extra);
    let json = Value::Object(json);
    Report {
        text: if format == Format::Json {
            serde_json::to_string_pretty(&json).unwrap_or_default()
        } else {
            text
        },
        json,
        exit: if invalid > 0 {
            Exit::InvalidForm
        } else {
            Exit::Success
        },
        reason: (invalid > 0).then(|| format!("{invalid} of {} {noun}(s) invalid", checked.len())),
    }
}

/// The rules of the deployment, and which allow-lists they apply.
pub struct Rules {
    pub rules: ValidationRules,
    pub buckets_checked: bool,
    pub images_checked: bool,
}

/// Each allow-list from the settings, else from the target stack's outputs (`DataBucket`,
/// `ImageRepositories`), else not applied: validating away from any deployment must
/// not fail every form on its buckets.
pub async fn rules(ctx: &Context) -> Result<Rules, CliError> {
    let settings = &ctx.settings;
    let from_stack = settings.target.stack_name().is_some();
    let buckets = if !settings.allow_buckets.is_empty() {
        Some(settings.allow_buckets.join(","))
    } else if from_stack {
        Some(ctx.output("DataBucket").await?)
    } else {
        None
    };
    let images = if !settings.allow_image_repositories.is_empty() {
        Some(settings.allow_image_repositories.join(","))
    } else if from_stack {
        // Stacks deployed before the output existed: the service still checks images.
        ctx.outputs().await?.get("ImageRepositories").cloned()
    } else {
        None
    };
    let mut rules = ValidationRules::from_allow_list(buckets.as_deref().unwrap_or_default());
    if let Some(images) = &images {
        rules = rules.with_image_repositories(images);
    }
    Ok(Rules {
        rules,
        buckets_checked: buckets.is_some(),
        images_checked: images.is_some(),
    })
}

fn check(file: &str, bytes: &[u8], rules: &ValidationRules, buckets_checked: bool) -> Checked {
    match validate_form(bytes, rules) {
        Ok(form) => Checked {
            file: file.to_owned(),
            valid: Some(format!(
                "{} job \"{}\"",
                serde_json::to_value(form.backend)
                    .ok()
                    .and_then(|b| b.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                form.job_name
            )),
            problems: vec![],
        },
        Err(problems) => {
            let problems: Vec<FormProblem> = problems
                .into_iter()
                .filter(|p| buckets_checked || p.code != BUCKET_NOT_ALLOWED)
                .collect();
            if problems.is_empty() {
                // Only bucket problems, and buckets are not being checked: valid as far as known.
                return Checked {
                    file: file.to_owned(),
                    valid: Some("its data buckets not checked".into()),
                    problems: vec![],
                };
            }
            Checked {
                file: file.to_owned(),
                valid: None,
                problems: with_lines(bytes, problems),
            }
        }
    }
}

pub(super) fn with_lines(bytes: &[u8], problems: Vec<FormProblem>) -> Vec<(FormProblem, Option<usize>)> {
    let lines = Lines::of(bytes);
    problems
        .into_iter()
        .map(|p| {
            let line = lines.line(&p.path);
            (p, line)
        })
        .collect()
}

/// The problems of one form (found here or by the service) as `validate` prints them.
pub fn render_problems(file: &str, bytes: &[u8], problems: Vec<FormProblem>) -> String {
    text_report(&[Checked {
        file: file.to_owned(),
        valid: None,
        problems: with_lines(bytes, problems),
    }])
}

/// Files named, and the *.json files under folders named, each folder's sorted.
pub(super) fn json_files(args: &[PathBuf]) -> Result<Vec<PathBuf>, CliError> {
    let mut files = Vec::new();
    for arg in args {
        if arg.is_dir() {
            let before = files.len();
            collect_json(arg, &mut files)?;
            if files.len() == before {
                return Err(CliError::Usage(format!("{} holds no .json files", arg.display())));
            }
        } else {
            files.push(arg.clone());
        }
    }
    Ok(files)
}

fn collect_json(dir: &Path, files: &mut Vec<PathBuf>) -> Result<(), CliError> {
    let entries = std::fs::read_dir(dir)
        .map_err(|e| CliError::Usage(format!("cannot read folder {}: {e}", dir.display())))?;
    let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
    paths.sort();
    for path in paths {
        if path.is_dir() {
            collect_json(&path, files)?;
        } else if path.extension().is_some_and(|e| e == "json") {
            files.push(path);
        }
    }
    Ok(())
}

fn text_report(checked: &[Checked]) -> String {
    let mut out = String::new();
    for form in checked {
        match &form.valid {
            Some(what) => out.push_str(&format!("{}: valid ({what})\n", form.file)),
            None => {
                out.push_str(&format!("{}: {} problem(s)\n", form.file, form.problems.len()));
                for (p, line) in &form.problems {
                    let at = line.map(|l| format!(" (line {l})")).unwrap_or_default();
                    out.push_str(&format!("  {}{at} [{}] {}\n", p.path, p.code, p.message));
                }
            }
        }
    }
    out
}

/// GitHub Actions workflow commands: `::error file=F,line=L,title=CODE::PATH: MESSAGE`.
fn github_report(checked: &[Checked], noun: &str) -> String {
    let mut out = String::new();
    for form in checked {
        for (p, line) in &form.problems {
            let line = line.map(|l| format!(",line={l}")).unwrap_or_default();
            out.push_str(&format!(
                "::error file={}{line},title={}::{}\n",
                escape_property(&form.file),
                escape_property(&p.code),
                escape_data(&format!("{}: {}", p.path, p.message))
            ));
        }
    }
    let invalid = checked.iter().filter(|c| c.valid.is_none()).count();
    out.push_str(&format!(
        "{} {noun}(s) checked, {invalid} invalid\n",
        checked.len()
    ));
    out
}

/// What GitHub's workflow-command parser needs escaped in a message.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25").replace('\r', "%0D").replace('\n', "%0A")
}

/// ... and in a property value (`file=`, `title=`).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

fn json_entry(form: &Checked) -> Value {
    json!({
        "file": form.file,
        "valid": form.valid.is_some(),
        "problems": form.problems.iter().map(|(p, line)| json!({
            "path": p.path, "code": p.code, "message": p.message, "line": line,
        })).collect::<Vec<_>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const INVERTED: &str =
        "{\n  \"schema_version\": 1,\n  \"segment\": {\"age\": {\"min\": 40, \"max\": 20}}\n}";

    fn rules() -> ValidationRules {
        ValidationRules::from_allow_list("data")
    }

    #[test]
    fn problems_carry_their_lines() {
        let checked = check("f.json", INVERTED.as_bytes(), &rules(), true);
        assert!(checked.valid.is_none());
        let inverted = checked
            .problems
            .iter()
            .find(|(p, _)| p.code == "age_range_inverted")
            .unwrap();
        assert_eq!(inverted.1, Some(3));
        let text = text_report(&[checked]);
        assert!(
            text.contains("  $.segment.age (line 3) [age_range_inverted] "),
            "{text}"
        );
    }

    #[test]
    fn github_annotations_are_escaped_workflow_commands() {
        let checked = check("forms/a,b.json", INVERTED.as_bytes(), &rules(), true);
        let out = github_report(&[checked], "form");
        let line = out
            .lines()
            .find(|l| l.contains("title=age_range_inverted"))
            .unwrap();
        assert!(
            line.starts_with(
                "::error file=forms/a%2Cb.json,line=3,title=age_range_inverted::$.segment.age: "
            ),
            "{line}"
        );
        assert!(out.ends_with("1 form(s) checked, 1 invalid\n"));
        assert_eq!(escape_data("50%\nnext"), "50%25%0Anext");
        assert_eq!(escape_property("a:b,c"), "a%3Ab%2Cc");
    }

    #[test]
    fn without_an_allow_list_buckets_are_not_judged() {
        let form = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/forms/invalid/bucket_not_allowed--someone-elses-bucket.json"
        ))
        .unwrap();
        assert!(check("f", &form, &ValidationRules::default(), false)
            .valid
            .is_some());
        let checked = check(
            "f",
            &form,
            &ValidationRules::from_allow_list("recoflow-data-000000000000"),
            true,
        );
        assert!(checked.problems.iter().any(|(p, _)| p.code == BUCKET_NOT_ALLOWED));
    }

    #[test]
    fn images_are_judged_only_against_an_allow_list() {
        let form = std::fs::read(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../examples/forms/invalid/image_not_allowed--public-docker-image.json"
        ))
        .unwrap();
        let buckets = ValidationRules::from_allow_list("recoflow-data-000000000000");
        assert!(check("f", &form, &buckets, true).valid.is_some());
        let images = buckets.with_image_repositories("000000000000.dkr.ecr.us-east-1.amazonaws.com/recsys");
        let checked = check("f", &form, &images, true);
        let (problem, line) = &checked.problems[0];
        assert_eq!(
            (problem.code.as_str(), problem.path.as_str()),
            ("image_not_allowed", "$.container.training_image")
        );
        assert_eq!(*line, Some(14));
    }

    #[test]
    fn folders_give_their_json_files_sorted() {
        let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../examples/forms"));
        let files = json_files(std::slice::from_ref(&dir)).unwrap();
        assert!(files
            .iter()
            .any(|f| f.ends_with("invalid/not_json--empty-file.json")));
        assert!(files.iter().all(|f| f.extension().is_some_and(|e| e == "json")));
        let names: Vec<_> = files
            .iter()
            .filter(|f| f.parent() == Some(dir.join("invalid").as_path()))
            .collect();
        assert!(names.windows(2).all(|w| w[0] < w[1]));
        let empty = std::env::temp_dir().join(format!("recoflow-cli-empty-{}", std::process::id()));
        std::fs::create_dir_all(&empty).unwrap();
        assert_eq!(
            json_files(std::slice::from_ref(&empty))
                .unwrap_err()
                .exit()
                .code(),
            2
        );
        std::fs::remove_dir_all(&empty).unwrap();
    }

    #[test]
    fn json_entries_list_problems_with_lines() {
        let entry = json_entry(&check("f.json", INVERTED.as_bytes(), &rules(), true));
        assert_eq!(entry["valid"], false);
        assert!(entry["problems"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["line"] == 3));
    }
}
