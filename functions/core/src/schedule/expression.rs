//! EventBridge Scheduler's schedule expressions, parsed as strictly as the service parses them
//! (and as the local stack's emulator does, `localstack/extension/EMULATORS.md`):
//!
//! ```text
//! cron(minutes hours day-of-month month day-of-week year)   wall-clock times in the schedule's zone
//! rate(value unit)                                          every value minute(s)|hour(s)|day(s) of elapsed time
//! at(yyyy-mm-ddThh:mm:ss)                                   once, a wall-clock time in the schedule's zone
//! ```
//!
//! Written here rather than taken from a cron crate: the maintained ones (`croner`, `cron`)
//! read other dialects (a seconds field, 0-based weekdays, `?` as `*`, both day fields OR-ed)
//! and move a time that falls in a spring-forward gap to after the gap, where the Scheduler
//! skips it; the service's rules are small enough to say exactly.

use jiff::civil::{Date, DateTime, Time};

/// An expression the service refuses; the message says which part and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct ExpressionError(pub String);

fn refuse<T>(message: impl Into<String>) -> Result<T, ExpressionError> {
    Err(ExpressionError(message.into()))
}

/// A parsed schedule expression.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScheduleExpression {
    Cron(Cron),
    /// Every this many seconds of elapsed time.
    Rate {
        seconds: i64,
    },
    /// Once, at this wall-clock time of the schedule's zone.
    At(DateTime),
}

impl ScheduleExpression {
    /// The expression, or what the service would refuse in it.
    pub fn parse(text: &str) -> Result<Self, ExpressionError> {
        let (kind, body) = text
            .split_once('(')
            .and_then(|(kind, rest)| Some((kind, rest.strip_suffix(')')?)))
            .ok_or_else(|| {
                ExpressionError("the expression must be cron(...), rate(...) or at(...)".into())
            })?;
        match kind {
            "cron" => Cron::parse(body).map(Self::Cron),
            "rate" => parse_rate(body),
            "at" => parse_at(body),
            _ => refuse("the expression must be cron(...), rate(...) or at(...)"),
        }
    }

    /// A one-time (`at`) expression: the service ignores start and end dates for these.
    pub fn is_one_time(&self) -> bool {
        matches!(self, Self::At(_))
    }
}

fn parse_rate(body: &str) -> Result<ScheduleExpression, ExpressionError> {
    let Some((value, unit)) = body.split_once(' ').filter(|(value, unit)| {
        is_digits(value) && !unit.is_empty() && unit.bytes().all(|b| b.is_ascii_lowercase())
    }) else {
        return refuse("a rate expression is rate(value unit), e.g. rate(5 minutes)");
    };
    let unit_seconds = match unit {
        "minute" | "minutes" => 60,
        "hour" | "hours" => 3_600,
        "day" | "days" => 86_400,
        _ => {
            return refuse(format!(
                "rate unit '{unit}' is not one of minute | minutes | hour | hours | day | days"
            ))
        }
    };
    match value.parse::<i64>() {
        Ok(value) if value >= 1 => value
            .checked_mul(unit_seconds)
            .map(|seconds| ScheduleExpression::Rate { seconds })
            .ok_or_else(|| ExpressionError(format!("rate value {value} is too large"))),
        _ => refuse(format!("rate value {value} is not a positive integer")),
    }
}

fn parse_at(body: &str) -> Result<ScheduleExpression, ExpressionError> {
    let shape = "dddd-dd-ddTdd:dd:dd";
    let well_formed = body.len() == shape.len()
        && body.bytes().zip(shape.bytes()).all(|(b, s)| match s {
            b'd' => b.is_ascii_digit(),
            other => b == other,
        });
    if !well_formed {
        return refuse("an at expression is at(yyyy-mm-ddThh:mm:ss)");
    }
    let number = |range: std::ops::Range<usize>| body[range].parse::<i16>().expect("digits checked above");
    let (year, month, day) = (number(0..4), number(5..7) as i8, number(8..10) as i8);
    let (hour, minute, second) = (number(11..13) as i8, number(14..16) as i8, number(17..19) as i8);
    Date::new(year, month, day)
        .and_then(|date| Time::new(hour, minute, second, 0).map(|time| date.to_datetime(time)))
        .map(ScheduleExpression::At)
        .map_err(|_| ExpressionError(format!("at time {body} is not a date and time that exists")))
}

fn is_digits(text: &str) -> bool {
    !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit())
}

// --- cron ----------------------------------------------------------------------------------

const MONTH_NAMES: [&str; 12] = [
    "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
];
const WEEKDAY_NAMES: [&str; 7] = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"];
/// Day-of-week counts 1 = Sunday .. 7 = Saturday; `L` alone is the last day of the week.
const SATURDAY: u16 = 7;

/// One field of a cron expression: its name, its range, its names, its largest increment
/// (Quartz, which the service follows, refuses `*/60` in minutes).
struct Field {
    name: &'static str,
    low: u16,
    high: u16,
    names: &'static [&'static str],
    max_step: Option<u16>,
}

const MINUTES: Field = Field {
    name: "minutes",
    low: 0,
    high: 59,
    names: &[],
    max_step: Some(59),
};
const HOURS: Field = Field {
    name: "hours",
    low: 0,
    high: 23,
    names: &[],
    max_step: Some(23),
};
const DAY_OF_MONTH: Field = Field {
    name: "day-of-month",
    low: 1,
    high: 31,
    names: &[],
    max_step: Some(31),
};
const MONTH: Field = Field {
    name: "month",
    low: 1,
    high: 12,
    names: &MONTH_NAMES,
    max_step: Some(12),
};
const DAY_OF_WEEK: Field = Field {
    name: "day-of-week",
    low: 1,
    high: 7,
    names: &WEEKDAY_NAMES,
    max_step: Some(7),
};
const YEAR: Field = Field {
    name: "year",
    low: 1970,
    high: 2199,
    names: &[],
    max_step: None,
};

impl Field {
    fn value(&self, token: &str) -> Result<u16, ExpressionError> {
        let upper = token.to_ascii_uppercase();
        if let Some(index) = self.names.iter().position(|name| *name == upper) {
            return Ok(self.low + index as u16);
        }
        if !is_digits(token) {
            let or_name = if self.names.is_empty() { "" } else { " or name" };
            return refuse(format!("{} value '{token}' is not a number{or_name}", self.name));
        }
        match token.parse::<u16>() {
            Ok(value) if (self.low..=self.high).contains(&value) => Ok(value),
            _ => refuse(format!(
                "{} value {} is out of range {}-{}",
                self.name,
                token.trim_start_matches('0').max("0"),
                self.low,
                self.high
            )),
        }
    }

    /// `*`, `a`, `a-b`, `a/n`, `*/n`, `a-b/n` and comma lists of them, sorted.
    fn values(&self, text: &str) -> Result<Vec<u16>, ExpressionError> {
        let mut values = Vec::new();
        for part in text.split(',') {
            if part.is_empty() {
                return refuse(format!("{} field '{text}' has an empty list item", self.name));
            }
            let (base, step) = match part.split_once('/') {
                None => (part, None),
                Some((base, step_text)) => (base, Some(self.step(step_text)?)),
            };
            let (start, end) = if base == "*" {
                (self.low, self.high)
            } else if let Some((first, last)) = base.split_once('-') {
                let (start, end) = (self.value(first)?, self.value(last)?);
                if start > end {
                    return refuse(format!("{} range {base} runs backwards", self.name));
                }
                (start, end)
            } else {
                let start = self.value(base)?;
                (start, if step.is_some() { self.high } else { start })
            };
            values.extend((start..=end).step_by(usize::from(step.unwrap_or(1))));
        }
        values.sort_unstable();
        values.dedup();
        Ok(values)
    }

    fn step(&self, text: &str) -> Result<u16, ExpressionError> {
        match text.parse::<u16>() {
            Ok(step) if is_digits(text) && step >= 1 => match self.max_step {
                Some(max) if step > max => {
                    refuse(format!("{} increment {step} is larger than {max}", self.name))
                }
                _ => Ok(step),
            },
            _ => refuse(format!(
                "{} increment '{text}' is not a positive number",
                self.name
            )),
        }
    }
}

/// The day-of-month field: days, `L` (last day), `LW` (last weekday), `nW` (the weekday
/// nearest day n, not leaving the month).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct DayOfMonth {
    days: Vec<u16>,
    last: bool,
    last_weekday: bool,
    nearest_weekday: Vec<u16>,
}

impl DayOfMonth {
    fn parse(text: &str) -> Result<Self, ExpressionError> {
        let mut field = Self::default();
        for part in text.split(',') {
            match part {
                "L" => field.last = true,
                "LW" => field.last_weekday = true,
                _ => match part.strip_suffix('W').filter(|day| is_digits(day)) {
                    Some(day) => field.nearest_weekday.push(DAY_OF_MONTH.value(day)?),
                    None => field.days.extend(DAY_OF_MONTH.values(part)?),
                },
            }
        }
        Ok(field)
    }

    fn matches(&self, date: Date) -> bool {
        let day = date.day() as u16;
        let last_day = date.days_in_month() as u16;
        self.days.contains(&day)
            || (self.last && day == last_day)
            || (self.last_weekday && day == weekday_near(date, last_day))
            || self
                .nearest_weekday
                .iter()
                .any(|&n| n <= last_day && day == weekday_near(date, n))
    }
}

/// The weekday (Monday to Friday) nearest to day `day` of `date`'s month, without leaving the
/// month (Quartz's `W`).
fn weekday_near(date: Date, day: u16) -> u16 {
    let last_day = date.days_in_month() as u16;
    let Ok(target) = date.with().day(day as i8).build() else {
        return day;
    };
    match aws_weekday(target) {
        // Saturday: the Friday before, or the Monday after when it is the 1st.
        7 if day > 1 => day - 1,
        7 => day + 2,
        // Sunday: the Monday after, or the Friday before when it is the last day.
        1 if day < last_day => day + 1,
        1 => day - 2,
        _ => day,
    }
}

/// 1 = Sunday .. 7 = Saturday, as cron's day-of-week counts.
fn aws_weekday(date: Date) -> u16 {
    date.weekday().to_sunday_one_offset() as u16
}

/// The day-of-week field: weekdays, `dL` (the last such weekday of the month), `d#k` (the
/// k-th such weekday of the month).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
struct DayOfWeek {
    days: Vec<u16>,
    last_of_month: Vec<u16>,
    nth: Option<(u16, u16)>,
}

impl DayOfWeek {
    fn parse(text: &str) -> Result<Self, ExpressionError> {
        if let Some((day, nth)) = text.split_once('#') {
            if text.contains(',') {
                return refuse(format!(
                    "day-of-week field '{text}': with '#' the field holds one expression only"
                ));
            }
            return match nth.parse::<u16>() {
                Ok(k) if is_digits(nth) && (1..=5).contains(&k) => Ok(Self {
                    nth: Some((DAY_OF_WEEK.value(day)?, k)),
                    ..Self::default()
                }),
                _ => refuse(format!(
                    "day-of-week field '{text}': the number after '#' must be 1-5"
                )),
            };
        }
        let mut field = Self::default();
        for part in text.split(',') {
            if part == "L" {
                field.days.push(SATURDAY);
            } else if let Some(day) = part.strip_suffix('L').filter(|day| !day.is_empty()) {
                field.last_of_month.push(DAY_OF_WEEK.value(day)?);
            } else {
                field.days.extend(DAY_OF_WEEK.values(part)?);
            }
        }
        Ok(field)
    }

    fn matches(&self, date: Date) -> bool {
        let weekday = aws_weekday(date);
        let day = date.day() as u16;
        self.days.contains(&weekday)
            || (self.last_of_month.contains(&weekday) && day + 7 > date.days_in_month() as u16)
            || self
                .nth
                .is_some_and(|(nth_day, k)| weekday == nth_day && (day - 1) / 7 + 1 == k)
    }
}

/// A parsed `cron(...)`: the values each field allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cron {
    minutes: Vec<u16>,
    hours: Vec<u16>,
    /// `None`: `?`.
    day_of_month: Option<DayOfMonth>,
    months: Vec<u16>,
    /// `None`: `?`.
    day_of_week: Option<DayOfWeek>,
    years: Vec<u16>,
}

impl Cron {
    fn parse(body: &str) -> Result<Self, ExpressionError> {
        let fields: Vec<&str> = body.split_whitespace().collect();
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return refuse(format!(
                "a cron expression has 6 fields (minutes hours day-of-month month day-of-week year), this one has {}",
                fields.len()
            ));
        };
        if (dom == "?") == (dow == "?") {
            return refuse("exactly one of day-of-month and day-of-week must be '?'");
        }
        Ok(Self {
            minutes: MINUTES.values(minutes)?,
            hours: HOURS.values(hours)?,
            day_of_month: (dom != "?").then(|| DayOfMonth::parse(dom)).transpose()?,
            months: MONTH.values(month)?,
            day_of_week: (dow != "?").then(|| DayOfWeek::parse(dow)).transpose()?,
            years: YEAR.values(year)?,
        })
    }

    fn day_matches(&self, date: Date) -> bool {
        match (&self.day_of_month, &self.day_of_week) {
            (Some(dom), _) => dom.matches(date),
            (None, Some(dow)) => dow.matches(date),
            (None, None) => false,
        }
    }

    /// The first wall-clock time the expression matches at or after `from` (to the minute).
    pub(crate) fn next_wall_time(&self, from: DateTime) -> Option<DateTime> {
        let from_minute = from
            .date()
            .to_datetime(Time::new(from.hour(), from.minute(), 0, 0).ok()?);
        for &year in self.years.iter().filter(|&&y| y >= from.year() as u16) {
            for &month in &self.months {
                let Ok(first) = Date::new(year as i16, month as i8, 1) else {
                    continue;
                };
                if (year as i16, month as i8) < (from.year(), from.month()) {
                    continue;
                }
                for day in 1..=first.days_in_month() {
                    let date = first.with().day(day).build().ok()?;
                    if date < from.date() || !self.day_matches(date) {
                        continue;
                    }
                    let wall = self.first_time_of_day(date, from_minute);
                    if wall.is_some() {
                        return wall;
                    }
                }
            }
        }
        None
    }

    fn first_time_of_day(&self, date: Date, from_minute: DateTime) -> Option<DateTime> {
        self.hours.iter().find_map(|&hour| {
            self.minutes.iter().find_map(|&minute| {
                let wall = date.to_datetime(Time::new(hour as i8, minute as i8, 0, 0).ok()?);
                (wall >= from_minute).then_some(wall)
            })
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refused(text: &str) -> String {
        ScheduleExpression::parse(text).unwrap_err().0
    }

    #[test]
    fn the_three_kinds_parse() {
        assert_eq!(
            ScheduleExpression::parse("rate(7 days)").unwrap(),
            ScheduleExpression::Rate { seconds: 7 * 86_400 }
        );
        assert_eq!(
            ScheduleExpression::parse("rate(1 minute)").unwrap(),
            ScheduleExpression::Rate { seconds: 60 }
        );
        assert_eq!(
            ScheduleExpression::parse("at(2026-12-01T03:00:00)").unwrap(),
            ScheduleExpression::At(jiff::civil::date(2026, 12, 1).at(3, 0, 0, 0))
        );
        for valid in [
            "cron(0 3 ? * MON *)",
            "cron(0-15/1 8 ? * 2-6 *)",
            "cron(15 10 L * ? *)",
            "cron(0 9 LW * ? *)",
            "cron(0 9 15W * ? *)",
            "cron(0 9 ? * 6L *)",
            "cron(0 9 ? * 6#3 2026-2030)",
            "cron(*/15 * * JAN-MAR ? *)",
            "cron(0 12 1,15 * ? *)",
        ] {
            assert!(ScheduleExpression::parse(valid).is_ok(), "{valid}");
        }
    }

    #[test]
    fn what_the_service_refuses_is_refused_with_the_reason() {
        for (text, reason) in [
            ("every day", "must be cron(...), rate(...) or at(...)"),
            ("cron(0 3 * * ?)", "has 6 fields"),
            ("cron(60 3 * * ? *)", "minutes value 60 is out of range 0-59"),
            ("cron(0 24 * * ? *)", "hours value 24 is out of range 0-23"),
            ("cron(0 3 32 * ? *)", "day-of-month value 32 is out of range 1-31"),
            ("cron(0 3 ? 13 * *)", "month value 13 is out of range 1-12"),
            ("cron(0 3 ? * 8 *)", "day-of-week value 8 is out of range 1-7"),
            (
                "cron(0 3 ? * * 1969)",
                "year value 1969 is out of range 1970-2199",
            ),
            (
                "cron(0 3 * * * *)",
                "exactly one of day-of-month and day-of-week must be '?'",
            ),
            (
                "cron(0 3 ? * ? *)",
                "exactly one of day-of-month and day-of-week must be '?'",
            ),
            ("cron(*/60 * * * ? *)", "minutes increment 60 is larger than 59"),
            ("cron(0 10-5 * * ? *)", "hours range 10-5 runs backwards"),
            ("cron(0 3 ? * 1#6 *)", "the number after '#' must be 1-5"),
            (
                "cron(0 3 ? * 1#2,3 *)",
                "with '#' the field holds one expression only",
            ),
            (
                "cron(0 3 ? * FUNDAY *)",
                "day-of-week value 'FUNDAY' is not a number or name",
            ),
            ("cron(0,,5 3 * * ? *)", "has an empty list item"),
            ("rate(0 minutes)", "rate value 0 is not a positive integer"),
            ("rate(5 weeks)", "rate unit 'weeks' is not one of"),
            ("rate(5minutes)", "rate(value unit)"),
            (
                "at(2026-02-30T03:00:00)",
                "at time 2026-02-30T03:00:00 is not a date and time that exists",
            ),
            ("at(2026-12-01 03:00:00)", "at(yyyy-mm-ddThh:mm:ss)"),
        ] {
            let message = refused(text);
            assert!(message.contains(reason), "{text}: {message}");
        }
    }
}
