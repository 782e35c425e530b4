//! `recoflow submit FORM [--via api|s3] [--idempotency-key K] [--wait]`.
//!
//! Through the API (`POST /jobs`, SigV4) the service validates and answers at once. Every
//! submission carries an `Idempotency-Key` (a fresh one unless given), so a retried request
//! never starts a second job. Through S3 the form is checked here first (the same validation),
//! then put under `submissions/` in the forms bucket; the job id follows from the object's
//! version, as intake computes it.

use std::path::{Path, PathBuf};

use clap::{Args, ValueEnum};
use recoflow_core::job::JobId;
use recoflow_core::validation::{validate_form, FormProblem};
use serde_json::{json, Value};

use super::follow::{self, Start};
use super::status::ended_report;
use super::validate::{render_problems, rules};
use crate::context::Context;
use crate::exit::{CliError, Exit};
use crate::output::{field, Report};
use crate::routes::SUBMIT_JOB;

#[derive(Debug, Args)]
pub struct SubmitArgs {
    /// The form (JSON)
    pub form: PathBuf,
    /// api: POST /jobs (signed with SigV4); s3: upload to the forms bucket's submissions/
    #[arg(long, value_enum, default_value_t = Via::Api)]
    pub via: Via,
    /// Same key and form give the same job, however often sent (api only; default: a new key)
    #[arg(long, value_name = "KEY")]
    pub idempotency_key: Option<String>,
    /// Follow the job to its end; exit 0 if it SUCCEEDED, 1 if it FAILED or was CANCELLED
    #[arg(long)]
    pub wait: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Via {
    Api,
    S3,
}

/// What a submission started.
struct Submitted {
    job_id: String,
    json: Value,
    line: String,
    start: Start,
}

pub async fn run(args: SubmitArgs, ctx: &Context) -> Result<Report, CliError> {
    let bytes = std::fs::read(&args.form)
        .map_err(|e| CliError::Usage(format!("cannot read {}: {e}", args.form.display())))?;
    let file = args.form.display().to_string();
    let submitted = match args.via {
        Via::Api => through_api(ctx, &file, &bytes, args.idempotency_key).await?,
        Via::S3 => {
            if args.idempotency_key.is_some() {
                return Err(CliError::Usage(
                    "--idempotency-key is for --via api; through S3 each uploaded version is one job".into(),
                ));
            }
            through_s3(ctx, &args.form, &bytes).await?
        }
    };
    let submitted = match submitted {
        Ok(submitted) => submitted,
        Err(refused) => return Ok(refused),
    };
    if !args.wait {
        let text = format!(
            "{}\nfollow it: recoflow status {} --follow\n",
            submitted.line, submitted.job_id
        );
        return Ok(Report::ok(text, submitted.json));
    }
    if !ctx.json {
        println!("{}", submitted.line);
    }
    let job = follow::follow(ctx, &submitted.job_id, submitted.start).await?;
    Ok(ended_report(job))
}

/// A recurring form's answer: its schedule and next runs.
fn scheduled(answer: &Value, key: String) -> Report {
    let id = field(answer, "schedule_id");
    let mut text = format!(
        "created schedule {id}; each firing starts a job from the form
"
    );
    for run in answer
        .get("next_runs")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        text.push_str(&format!(
            "next  {}  ({})
",
            field(run, "utc"),
            field(run, "local")
        ));
    }
    text.push_str(&format!(
        "see it: recoflow schedule show {id}
"
    ));
    Report::ok(text, json!({"idempotency_key": key, "submission": answer}))
}

/// `Ok(Err(report))`: nothing to follow: the form was refused, with its problems, or it was a
/// recurring form and became a schedule.
async fn through_api(
    ctx: &Context,
    file: &str,
    bytes: &[u8],
    key: Option<String>,
) -> Result<Result<Submitted, Report>, CliError> {
    let key = key.unwrap_or_else(|| format!("recoflow-cli-{}", uuid::Uuid::new_v4()));
    let api = ctx.api().await?;
    let call = SUBMIT_JOB
        .call(&[])
        .header("idempotency-key", key.clone())
        .json_body(bytes.to_vec());
    match api.send(call).await {
        Ok(answer) if answer.body.get("schedule_id").is_some() => Ok(Err(scheduled(&answer.body, key))),
        Ok(answer) => {
            let job_id = field(&answer.body, "job_id");
            let replayed = if answer.body["replayed"] == true {
                " (this key was used before: the same job)"
            } else {
                ""
            };
            Ok(Ok(Submitted {
                line: format!(
                    "submitted job {job_id} ({}){replayed}",
                    field(&answer.body, "status")
                ),
                job_id,
                json: json!({"idempotency_key": key, "submission": answer.body}),
                start: Start::Exists,
            }))
        }
        Err(CliError::Api(err)) if err.exit() == Exit::InvalidForm => {
            let json = json!({"error": {"code": err.code, "message": err.message, "problems": err.problems}});
            let reason = format!("{}; nothing was started", err.message);
            Ok(Err(refused(file, bytes, err.problems, json, reason)))
        }
        Err(err) => Err(err),
    }
}

async fn through_s3(ctx: &Context, path: &Path, bytes: &[u8]) -> Result<Result<Submitted, Report>, CliError> {
    let file = path.display().to_string();
    if let Err(problems) = validate_form(bytes, &rules(ctx).await?.rules) {
        let message = format!("the form has {} problem(s); nothing was uploaded", problems.len());
        let json = json!({"error": {"code": "InvalidForm", "message": message, "problems": problems}});
        return Ok(Err(refused(&file, bytes, problems, json, message)));
    }
    let bucket = ctx.output("FormsBucket").await?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_string())
        .unwrap_or_else(|| "form.json".into());
    let key = format!("submissions/{name}");
    let put = ctx
        .s3()
        .await?
        .put_object()
        .bucket(&bucket)
        .key(&key)
        .content_type("application/json")
        .body(bytes.to_vec().into())
        .send()
        .await
        .map_err(|err| {
            CliError::Unavailable(format!(
                "cannot upload to s3://{bucket}/{key}: {}",
                aws_sdk_s3::error::DisplayErrorContext(&err)
            ))
        })?;
    // Intake names the job by the object's version (the forms bucket is versioned), else its ETag.
    let version = put
        .version_id()
        .filter(|v| !v.is_empty() && *v != "null")
        .map(str::to_owned)
        .or_else(|| put.e_tag().map(|e| e.trim_matches('"').to_owned()))
        .unwrap_or_default();
    let job_id = JobId::for_s3_object(&bucket, &key, &version).to_string();
    Ok(Ok(Submitted {
        line: format!("uploaded s3://{bucket}/{key} (version {version}): job {job_id}"),
        json: json!({"job_id": job_id, "bucket": bucket, "key": key, "version": version}),
        job_id,
        start: Start::Appears,
    }))
}

fn refused(file: &str, bytes: &[u8], problems: Vec<FormProblem>, json: Value, reason: String) -> Report {
    Report::failed(
        render_problems(file, bytes, problems),
        json,
        Exit::InvalidForm,
        reason,
    )
}
