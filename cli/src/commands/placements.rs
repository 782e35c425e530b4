//! `recoflow placements list|show|apply|delete|validate`: the placements (`GET /placements`,
//! `GET|PUT|DELETE /placements/{placement}`), and their local check for CI with the service's
//! own validation (`recoflow_core::placement::validation`), as `recoflow validate` checks forms:
//! every problem with its path, code and line; exit 3 when any placement is invalid.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use recoflow_core::placement::validation::validate_placement;
use serde_json::Value;

use super::paging::PageArgs;
use super::validate::{json_files, render_problems, report, with_lines, Checked, Format};
use crate::context::Context;
use crate::exit::{CliError, Exit};
use crate::output::{field, Report, Table};
use crate::routes::{DELETE_PLACEMENT, LIST_PLACEMENTS, PUT_PLACEMENT, SHOW_PLACEMENT};

#[derive(Debug, Args)]
pub struct PlacementsArgs {
    #[command(subcommand)]
    pub action: PlacementsAction,
}

#[derive(Debug, Subcommand)]
pub enum PlacementsAction {
    /// The placements by name: what each serves and its test.
    List {
        #[command(flatten)]
        page: PageArgs,
    },
    /// A placement: its arms and split, its document, who changed it when.
    Show { placement: String },
    /// Store a placement document (validated by the service; live within 5 s).
    Apply { file: PathBuf },
    /// Stop serving a placement (its history and metrics stay).
    Delete { placement: String },
    /// Check placement files (or folders of *.json) locally, as the service would.
    Validate {
        #[arg(required = true, value_name = "PLACEMENT")]
        files: Vec<PathBuf>,
        /// text for people, json for scripts, github for workflow annotations (default text; --json means json)
        #[arg(long, value_enum)]
        format: Option<Format>,
    },
}

pub async fn run(args: PlacementsArgs, ctx: &Context) -> Result<Report, CliError> {
    match args.action {
        PlacementsAction::Validate { files, format } => validate(&files, Format::asked(format, ctx.json)),
        PlacementsAction::List { page } => {
            let answer = ctx
                .api()
                .await?
                .send(page.query(LIST_PLACEMENTS.call(&[])))
                .await?
                .body;
            let mut text = render_list(&answer);
            text.extend(page.more("recoflow placements list", &answer));
            Ok(Report::ok(text, answer))
        }
        PlacementsAction::Show { placement } => {
            let answer = ctx
                .api()
                .await?
                .send(SHOW_PLACEMENT.call(&[&placement]))
                .await?
                .body;
            Ok(Report::ok(render_placement(&answer), answer))
        }
        PlacementsAction::Apply { file } => apply(&file, ctx).await,
        PlacementsAction::Delete { placement } => {
            let answer = ctx
                .api()
                .await?
                .send(DELETE_PLACEMENT.call(&[&placement]))
                .await?
                .body;
            let text = format!(
                "placement {} deleted (revision {}); it serves no more\n",
                field(&answer, "placement"),
                field(&answer, "revision")
            );
            Ok(Report::ok(text, answer))
        }
    }
}

fn read(file: &PathBuf) -> Result<Vec<u8>, CliError> {
    std::fs::read(file).map_err(|e| CliError::Usage(format!("cannot read {}: {e}", file.display())))
}

fn validate(files: &[PathBuf], format: Format) -> Result<Report, CliError> {
    let checked = json_files(files)?
        .iter()
        .map(|path| Ok(check(&path.display().to_string(), &read(path)?)))
        .collect::<Result<Vec<Checked>, CliError>>()?;
    Ok(report(
        &checked,
        format,
        "placement",
        serde_json::Map::new(),
        None,
    ))
}

fn check(file: &str, bytes: &[u8]) -> Checked {
    match validate_placement(bytes) {
        Ok(placement) => Checked {
            file: file.to_owned(),
            valid: Some(format!("placement \"{}\"", placement.placement)),
            problems: Vec::new(),
        },
        Err(problems) => Checked {
            file: file.to_owned(),
            valid: None,
            problems: with_lines(bytes, problems),
        },
    }
}

/// Checked here first (the same code the service runs), then stored under the name it gives.
async fn apply(file: &PathBuf, ctx: &Context) -> Result<Report, CliError> {
    let bytes = read(file)?;
    let name = match validate_placement(&bytes) {
        Ok(placement) => placement.placement,
        Err(problems) => {
            let text = render_problems(&file.display().to_string(), &bytes, problems);
            let reason = "the placement is invalid; nothing was stored".to_owned();
            return Ok(Report::failed(text, Value::Null, Exit::InvalidForm, reason));
        }
    };
    let call = PUT_PLACEMENT.call(&[&name]).json_body(bytes);
    let answer = ctx.api().await?.send(call).await?.body;
    let text = format!(
        "placement {} stored as revision {} by {}; served within 5 s\n{}",
        field(&answer, "placement"),
        field(&answer, "revision"),
        field(&answer, "updated_by"),
        render_arms(&answer)
    );
    Ok(Report::ok(text, answer))
}

fn render_list(page: &Value) -> String {
    let mut table = Table::new(&["PLACEMENT", "REVISION", "ARMS", "UPDATED", "BY"]);
    for placement in page
        .get("placements")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let arms: Vec<String> = placement
            .get("arms")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|arm| field(arm, "arm"))
            .collect();
        table.row(vec![
            field(placement, "placement"),
            field(placement, "revision"),
            arms.join(", "),
            field(placement, "updated_at"),
            field(placement, "updated_by"),
        ]);
    }
    if table.is_empty() {
        return "no placements\n".to_owned();
    }
    table.render()
}

fn render_arms(placement: &Value) -> String {
    let mut table = Table::new(&["ARM", "KIND", "RESULT SET", "SHARE"]);
    for arm in placement
        .get("arms")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let share = arm
            .get("share")
            .and_then(Value::as_f64)
            .map(|s| format!("{:.0} %", s * 100.0))
            .unwrap_or_else(|| "-".into());
        table.row(vec![
            field(arm, "arm"),
            field(arm, "kind"),
            field(arm, "result_set"),
            share,
        ]);
    }
    table.render()
}

fn render_placement(placement: &Value) -> String {
    let mut text = format!(
        "placement {} revision {} by {} at {}\n{}",
        field(placement, "placement"),
        field(placement, "revision"),
        field(placement, "updated_by"),
        field(placement, "updated_at"),
        render_arms(placement)
    );
    let mut history = Table::new(&["REVISION", "ACTION", "BY", "AT"]);
    for revision in placement
        .get("history")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        history.row(vec![
            field(revision, "revision"),
            field(revision, "action"),
            field(revision, "updated_by"),
            field(revision, "updated_at"),
        ]);
    }
    if !history.is_empty() {
        text.push_str("history:\n");
        text.push_str(&history.render());
    }
    text
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn placement_files_are_checked_like_forms() {
        let dir = std::env::temp_dir().join(format!("recoflow-cli-placements-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let good = dir.join("home-top.json");
        std::fs::write(
            &good,
            r#"{"schema_version": 1, "placement": "home-top", "result_set": "spring"}"#,
        )
        .unwrap();
        let bad = dir.join("zz-bad.json");
        std::fs::write(
            &bad,
            "{\n  \"schema_version\": 1,\n  \"placement\": \"x\",\n  \"n\": 0\n}",
        )
        .unwrap();
        let report = validate(std::slice::from_ref(&dir), Format::Text).unwrap();
        assert_eq!(report.exit, Exit::InvalidForm);
        assert!(
            report
                .text
                .contains("home-top.json: valid (placement \"home-top\")"),
            "{}",
            report.text
        );
        assert!(
            report.text.contains("$.n (line 4) [out_of_range]"),
            "{}",
            report.text
        );
        assert!(report.text.contains("[nothing_to_serve]"), "{}", report.text);
        let github = validate(std::slice::from_ref(&bad), Format::Github).unwrap();
        assert!(
            github.text.ends_with("1 placement(s) checked, 1 invalid\n"),
            "{}",
            github.text
        );
        let json = validate(std::slice::from_ref(&good), Format::Json).unwrap();
        assert_eq!(
            (json.exit, json.json["invalid"].clone()),
            (Exit::Success, json!(0))
        );
        assert_eq!(json.json["placements"][0]["valid"], true);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_placement_shows_its_arms_split_and_history() {
        let shown = json!({"placement": "home-top", "revision": 2, "updated_by": "ana", "updated_at": "t2",
            "arms": [{"arm": "control", "kind": "ab", "result_set": "spring", "share": 0.5},
                     {"arm": "newcomers", "kind": "rule", "result_set": "popular"}],
            "history": [{"revision": 2, "action": "put", "updated_by": "ana", "updated_at": "t2"}]});
        let text = render_placement(&shown);
        let control = text.lines().find(|l| l.starts_with("control")).unwrap();
        assert!(
            control.contains("ab") && control.contains("spring") && control.ends_with("50 %"),
            "{text}"
        );
        assert!(
            text.lines()
                .any(|l| l.starts_with("newcomers") && l.ends_with('-')),
            "{text}"
        );
        assert!(text.contains("history:\n"), "{text}");
        assert_eq!(render_list(&json!({"placements": []})), "no placements\n");
    }
}
