//! Following a job to its end (`status --follow`, `submit --wait`): polls `GET /jobs/{id}` and
//! shows each status as it comes. On a terminal, a spinner per phase (indicatif) with the time
//! in it and, while delivering, a bar of users written; otherwise one plain line per change
//! with no control characters. With `--json` the lines go to stderr and stdout gets the job.

use std::io::{IsTerminal, Write};
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use recoflow_core::job::JobStatus;
use serde_json::Value;
use time::OffsetDateTime;

use super::status::{fetch, has_ended, status_of, users_written};
use crate::context::Context;
use crate::exit::CliError;
use crate::output::{between, duration, field, parse_time, text};

const POLL_EVERY: Duration = Duration::from_secs(1);
/// How long an S3 submission may take to become a job (intake runs on the S3 event).
const APPEAR_WITHIN: Duration = Duration::from_secs(120);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Start {
    /// The job exists: a 404 is an answer.
    Exists,
    /// The form was just uploaded: the job appears once intake has read it.
    Appears,
}

pub async fn follow(ctx: &Context, job_id: &str, start: Start) -> Result<Value, CliError> {
    let mut progress: Box<dyn Progress> = if ctx.json {
        Box::new(Lines::new(std::io::stderr()))
    } else if std::io::stdout().is_terminal() {
        Box::new(Spinners::new())
    } else {
        Box::new(Lines::new(std::io::stdout()))
    };
    let started = Instant::now();
    let mut announced = false;
    loop {
        let job = match fetch(ctx, job_id).await {
            Ok(job) => job,
            Err(CliError::Api(err))
                if err.status == 404 && start == Start::Appears && started.elapsed() < APPEAR_WITHIN =>
            {
                if !announced {
                    progress.note(&format!(
                        "waiting for {job_id} to be picked up from the forms bucket"
                    ));
                    announced = true;
                }
                tokio::time::sleep(POLL_EVERY).await;
                continue;
            }
            Err(err) => {
                progress.abandon();
                return Err(err);
            }
        };
        progress.show(&job, OffsetDateTime::now_utc());
        if has_ended(&job) {
            progress.finish(&job);
            return Ok(job);
        }
        tokio::time::sleep(POLL_EVERY).await;
    }
}

/// How progress is shown.
trait Progress {
    fn note(&mut self, message: &str);
    /// The job as just read; it only ever gains history entries.
    fn show(&mut self, job: &Value, now: OffsetDateTime);
    fn finish(&mut self, job: &Value);
    fn abandon(&mut self);
}

fn history(job: &Value) -> Vec<Value> {
    job.get("history")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// Seconds since the job's first history entry, as `+12s`.
fn offset(first: &Value, change: &Value) -> String {
    parse_time(&field(change, "at"))
        .and_then(|at| between(&field(first, "at"), at))
        .map(|d| format!("+{}", duration(d)))
        .unwrap_or_default()
}

/// One line per status change: `+12s  TRAINING  <detail>`; printable characters only.
struct Lines<W: Write> {
    out: W,
    shown: usize,
}

impl<W: Write> Lines<W> {
    fn new(out: W) -> Self {
        Self { out, shown: 0 }
    }
}

/// Control characters a service message might carry become spaces in a plain line.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect()
}

fn line(first: &Value, change: &Value) -> String {
    printable(&format!(
        "{:>8}  {:<18} {}",
        offset(first, change),
        field(change, "status"),
        text(change, "detail")
    ))
    .trim_end()
    .to_owned()
}

impl<W: Write> Progress for Lines<W> {
    fn note(&mut self, message: &str) {
        let _ = writeln!(self.out, "{}", printable(message));
        let _ = self.out.flush();
    }

    fn show(&mut self, job: &Value, _now: OffsetDateTime) {
        let history = history(job);
        if self.shown == 0 && !history.is_empty() {
            let _ = writeln!(
                self.out,
                "job {} ({})",
                field(job, "job_id"),
                field(job, "job_name")
            );
        }
        for change in history.iter().skip(self.shown) {
            let _ = writeln!(self.out, "{}", line(&history[0], change));
        }
        self.shown = self.shown.max(history.len());
        let _ = self.out.flush();
    }

    fn finish(&mut self, _job: &Value) {}

    fn abandon(&mut self) {}
}

/// A spinner per status; finished ones keep a line with how long they took.
struct Spinners {
    multi: MultiProgress,
    /// The bar of the newest status.
    current: Option<ProgressBar>,
    /// History entries that have a bar (the last of them is `current`).
    bars: usize,
}

impl Spinners {
    fn new() -> Self {
        Self {
            multi: MultiProgress::with_draw_target(ProgressDrawTarget::stdout()),
            current: None,
            bars: 0,
        }
    }

    fn style(template: &str) -> ProgressStyle {
        ProgressStyle::with_template(template).expect("the template is valid")
    }

    /// Turns a status's bar into its line: how long the status lasted.
    fn close(history: &[Value], index: usize, bar: &ProgressBar) {
        let change = &history[index];
        let took = history
            .get(index + 1)
            .and_then(|next| parse_time(&field(next, "at")))
            .and_then(|end| between(&field(change, "at"), end))
            .map(duration)
            .unwrap_or_default();
        bar.set_style(Self::style("{msg}"));
        bar.finish_with_message(printable(&format!(
            "✔ {:<18} {:>7}  {}",
            field(change, "status"),
            took,
            text(change, "detail")
        )));
    }
}

impl Progress for Spinners {
    fn note(&mut self, message: &str) {
        let _ = self.multi.println(message);
    }

    fn show(&mut self, job: &Value, now: OffsetDateTime) {
        let history = history(job);
        let Some(last) = history.len().checked_sub(1) else {
            return;
        };
        if self.bars < history.len() {
            if let Some(bar) = self.current.take() {
                Self::close(&history, self.bars - 1, &bar);
            }
            for index in self.bars..last {
                Self::close(&history, index, &self.multi.add(ProgressBar::new_spinner()));
            }
            let bar = self.multi.add(ProgressBar::new_spinner());
            bar.enable_steady_tick(Duration::from_millis(120));
            self.current = Some(bar);
            self.bars = history.len();
        }
        let Some(bar) = &self.current else { return };
        let change = &history[last];
        let in_status = between(&field(change, "at"), now)
            .map(duration)
            .unwrap_or_default();
        let delivered = users_written(job);
        let users = job
            .get("users_to_score")
            .and_then(Value::as_u64)
            .filter(|u| *u > 0);
        match (status_of(job), delivered, users) {
            (Some(JobStatus::Delivering), Some(delivered), Some(users)) => {
                bar.set_style(Self::style(
                    "{spinner:.cyan} {msg} [{bar:30.cyan/blue}] {pos}/{len} users",
                ));
                bar.set_length(users);
                bar.set_position(delivered);
            }
            _ => bar.set_style(Self::style("{spinner:.cyan} {msg}")),
        }
        bar.set_message(printable(&format!(
            "{:<18} {:>7}  {}",
            field(change, "status"),
            in_status,
            text(change, "detail")
        )));
    }

    fn finish(&mut self, job: &Value) {
        if let Some(bar) = self.current.take() {
            let mark = if field(job, "status") == "SUCCEEDED" {
                "✔"
            } else {
                "✖"
            };
            bar.set_style(Self::style("{msg}"));
            bar.finish_with_message(format!("{mark} {}", field(job, "status")));
        }
    }

    fn abandon(&mut self) {
        if let Some(bar) = self.current.take() {
            bar.abandon();
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn job(statuses: &[(&str, &str, &str)]) -> Value {
        let history: Vec<Value> = statuses
            .iter()
            .map(|(status, at, detail)| json!({"status": status, "at": at, "detail": detail}))
            .collect();
        json!({"job_id": "j-1", "job_name": "spring", "status": statuses.last().unwrap().0, "history": history})
    }

    #[test]
    fn plain_lines_show_each_change_once_without_control_characters() {
        let mut lines = Lines::new(Vec::new());
        let now = OffsetDateTime::now_utc();
        lines.show(&job(&[("QUEUED", "2026-11-24T10:00:00Z", "submitted")]), now);
        let later = job(&[
            ("QUEUED", "2026-11-24T10:00:00Z", "submitted"),
            ("PREPARING", "2026-11-24T10:00:02Z", ""),
            (
                "FAILED",
                "2026-11-24T10:01:05Z",
                "DatasetMissing:\tthe file\nis gone\u{1b}[31m",
            ),
        ]);
        lines.show(&later, now);
        lines.show(&later, now);
        lines.finish(&later);
        let text = String::from_utf8(lines.out).unwrap();
        assert_eq!(
            text,
            "job j-1 (spring)\n     +0s  QUEUED             submitted\n     +2s  PREPARING\n +1m 05s  FAILED             DatasetMissing: the file is gone [31m\n"
        );
        assert!(!text.chars().any(|c| c.is_control() && c != '\n'));
    }
}
