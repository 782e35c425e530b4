//! Recurring forms: a form with a `schedule` block becomes a schedule (an EventBridge Scheduler
//! schedule and its record in the schedules table) instead of a job, and each firing starts a
//! job from the stored form through the one submit path.
//!
//! - `expression`, `timing`: the service's expression rules and when a schedule fires, in its
//!   zone, with daylight saving time as the service documents it (no SDK: the API answers the
//!   next firings itself).
//! - `record`: the schedule's record (its form, state, runs, the job it waits on).
//! - `create`: submitting a recurring form.
//! - `firing`: a firing becomes a job, once, with the overlap rules.
//! - `ports`: the schedules table and EventBridge Scheduler.

pub mod change;
pub mod create;
pub mod expression;
pub mod firing;
pub mod ports;
pub mod record;
pub mod timing;

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

pub use expression::{ExpressionError, ScheduleExpression};
pub use record::{NextRun, RunOutcome, ScheduleId, ScheduleRecord, ScheduleRun, ScheduleState};
pub use timing::{ScheduleZone, Timing};

/// How many firings ahead the API shows.
pub const NEXT_RUNS_SHOWN: usize = 5;

/// A form's `schedule` block.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSettings {
    /// `cron(...)`, `rate(...)` or `at(...)`, as EventBridge Scheduler reads them.
    pub expression: String,
    /// The IANA zone cron and at times are read in.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// RFC 3339: no firing before it (recurring schedules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// RFC 3339: no firing after it (recurring schedules only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    #[serde(default)]
    pub overlap: Overlap,
}

fn default_timezone() -> String {
    "UTC".to_owned()
}

/// What a firing does while the schedule's previous job still runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, strum::IntoStaticStr)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Overlap {
    /// Recorded as a SKIPPED job naming the running one.
    #[default]
    Skip,
    /// Waits QUEUED, started when the running job ends (in firing order).
    Queue,
}

/// Which part of a schedule block is wrong, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsProblem {
    /// `expression`, `timezone`, `start` or `end`.
    pub field: &'static str,
    pub code: &'static str,
    pub message: String,
}

impl ScheduleSettings {
    /// When the schedule fires (a rate without a start begins at `anchor`), or every problem
    /// of the block.
    pub fn timing(&self, anchor: Option<Timestamp>) -> Result<Timing, Vec<SettingsProblem>> {
        let mut problems = Vec::new();
        let expression = ScheduleExpression::parse(&self.expression).map_err(|err| {
            problems.push(SettingsProblem {
                field: "expression",
                code: "invalid_schedule_expression",
                message: format!("schedule.expression \"{}\" is not valid: {err}", self.expression),
            })
        });
        let zone = ScheduleZone::named(&self.timezone).map_err(|err| {
            problems.push(SettingsProblem {
                field: "timezone",
                code: "unknown_time_zone",
                message: format!("schedule.timezone: {err}"),
            })
        });
        let start = instant("start", self.start.as_deref(), &mut problems);
        let end = instant("end", self.end.as_deref(), &mut problems);
        if let (Some(start), Some(end)) = (start, end) {
            if end <= start {
                problems.push(SettingsProblem {
                    field: "end",
                    code: "end_before_start",
                    message: format!(
                        "schedule.end ({}) must be later than schedule.start ({}); swap them or move the end",
                        self.end.as_deref().unwrap_or_default(),
                        self.start.as_deref().unwrap_or_default()
                    ),
                });
            }
        }
        match (expression, zone) {
            (Ok(expression), Ok(zone)) if problems.is_empty() => Ok(Timing {
                expression,
                zone,
                start,
                end,
                anchor,
            }),
            _ => Err(problems),
        }
    }
}

/// A start or end date: RFC 3339 with its offset (`2026-12-01T00:00:00+09:00`).
fn instant(
    field: &'static str,
    text: Option<&str>,
    problems: &mut Vec<SettingsProblem>,
) -> Option<Timestamp> {
    let text = text?;
    match text.parse::<Timestamp>() {
        Ok(instant) => Some(instant),
        Err(_) => {
            problems.push(SettingsProblem {
                field,
                code: "invalid_date",
                message: format!(
                    "schedule.{field} \"{text}\" is not an RFC 3339 date and time with its offset, e.g. 2026-12-01T03:00:00+09:00"
                ),
            });
            None
        }
    }
}

/// The clock's now as an instant schedules are computed with.
pub fn instant_now(clock: &impl crate::clock::Clock) -> Timestamp {
    Timestamp::from_second(clock.unix_now()).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// RFC 3339 in UTC to the second, as the Scheduler writes `<aws.scheduler.scheduled-time>`.
pub fn utc_text(instant: Timestamp) -> String {
    instant.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(
        expression: &str,
        timezone: &str,
        start: Option<&str>,
        end: Option<&str>,
    ) -> ScheduleSettings {
        ScheduleSettings {
            expression: expression.into(),
            timezone: timezone.into(),
            start: start.map(Into::into),
            end: end.map(Into::into),
            overlap: Overlap::Skip,
        }
    }

    #[test]
    fn every_problem_of_a_block_is_named_by_its_field() {
        let bad = settings(
            "cron(0 3 * * * *)",
            "Mars/Base",
            Some("2026-12-05T00:00:00Z"),
            Some("2026-12-01T00:00:00Z"),
        );
        let problems = bad.timing(None).unwrap_err();
        let found: Vec<(&str, &str)> = problems.iter().map(|p| (p.field, p.code)).collect();
        assert_eq!(
            found,
            [
                ("expression", "invalid_schedule_expression"),
                ("timezone", "unknown_time_zone"),
                ("end", "end_before_start")
            ]
        );
        let dates = settings("rate(1 day)", "UTC", Some("tomorrow"), None)
            .timing(None)
            .unwrap_err();
        assert_eq!((dates[0].field, dates[0].code), ("start", "invalid_date"));
    }

    #[test]
    fn a_valid_block_gives_its_timing() {
        let weekly = settings(
            "cron(0 3 ? * MON *)",
            "Asia/Tokyo",
            Some("2026-12-01T00:00:00+09:00"),
            None,
        );
        let timing = weekly.timing(None).unwrap();
        assert_eq!(timing.zone.name(), "Asia/Tokyo");
        assert_eq!(timing.start, Some("2026-11-30T15:00:00Z".parse().unwrap()));
        assert_eq!(
            utc_text(timing.first(Timestamp::UNIX_EPOCH).unwrap()),
            "2026-12-06T18:00:00Z"
        );
    }
}
