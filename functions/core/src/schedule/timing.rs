//! When a schedule fires: its expression evaluated in its time zone, between its start and end
//! dates, with daylight saving time as the EventBridge Scheduler guide documents it (and as the
//! local stack's emulator fires, `localstack/extension/EMULATORS.md`):
//!
//! - a cron time that does not exist because clocks spring forward is skipped; one that occurs
//!   twice because clocks fall back fires once, at its first occurrence;
//! - a rate counts elapsed time (`rate(1 day)` is 24 hours, so its wall-clock time moves by the
//!   hour of a change);
//! - `at()` (the guide says nothing): a time in the gap fires at the instant the offset before
//!   the change gives (02:30 → 03:30 EDT), a repeated one at its first occurrence.
//!
//! Start and end bound recurring schedules only (firings at or after the start, at or before
//! the end); one-time schedules ignore them, as the service does.

use jiff::civil::DateTime;
use jiff::tz::{AmbiguousOffset, TimeZone};
use jiff::{SignedDuration, Timestamp};

use super::expression::{ExpressionError, ScheduleExpression};

/// An IANA time zone, from the database compiled into the binary (Lambda has no tzdata).
#[derive(Debug, Clone)]
pub struct ScheduleZone {
    name: String,
    zone: TimeZone,
}

impl ScheduleZone {
    /// The zone of that exact IANA name (`Asia/Tokyo`, `US/Eastern`, `UTC`), or why not.
    pub fn named(name: &str) -> Result<Self, ExpressionError> {
        match TimeZone::get(name) {
            // The database finds names whatever their case; the service wants them as written.
            Ok(zone) if zone.iana_name() == Some(name) => Ok(Self {
                name: name.to_owned(),
                zone,
            }),
            _ => Err(ExpressionError(format!(
                "'{name}' is not an IANA time zone name (e.g. America/New_York, Asia/Tokyo, UTC)"
            ))),
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The instant as an RFC 3339 time with this zone's offset then, e.g.
    /// `2026-12-01T12:00:00+09:00`.
    pub fn local_rfc3339(&self, instant: Timestamp) -> String {
        instant
            .to_zoned_datetime(self.zone.clone())
            .strftime("%Y-%m-%dT%H:%M:%S%:z")
            .to_string()
    }

    fn wall_time(&self, instant: Timestamp) -> DateTime {
        self.zone.to_datetime(instant)
    }

    /// The instant of a wall-clock time: an ambiguous time is its first occurrence; a time in
    /// a spring-forward gap is `None` with `skip_gap`, else the instant the offset before the
    /// change gives.
    fn instant_of(&self, wall: DateTime, skip_gap: bool) -> Option<Timestamp> {
        let offset = match self.zone.to_ambiguous_timestamp(wall).offset() {
            AmbiguousOffset::Unambiguous { offset } => offset,
            AmbiguousOffset::Gap { .. } if skip_gap => return None,
            AmbiguousOffset::Gap { before, .. } | AmbiguousOffset::Fold { before, .. } => before,
        };
        offset.to_timestamp(wall).ok()
    }
}

impl PartialEq for ScheduleZone {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

/// When one schedule fires. `anchor` is when a rate schedule without a start begins: its
/// creation (or the moment it was enabled again).
#[derive(Debug, Clone, PartialEq)]
pub struct Timing {
    pub expression: ScheduleExpression,
    pub zone: ScheduleZone,
    pub start: Option<Timestamp>,
    pub end: Option<Timestamp>,
    pub anchor: Option<Timestamp>,
}

impl Timing {
    /// The first firing at or after `after`, or `None`. A one-time schedule's firing is
    /// returned whenever it is (the service fires one whose time has passed at once).
    pub fn first(&self, after: Timestamp) -> Option<Timestamp> {
        let after = match self.start {
            Some(start) if start > after => start,
            _ => after,
        };
        let instant = match &self.expression {
            ScheduleExpression::At(wall) => return self.zone.instant_of(*wall, false),
            ScheduleExpression::Rate { seconds } => {
                let base = self.start.or(self.anchor).unwrap_or(after);
                let elapsed = after.duration_since(base).as_secs_f64();
                let steps = (elapsed / *seconds as f64).ceil().max(0.0) as i64;
                base.checked_add(SignedDuration::from_secs(steps.checked_mul(*seconds)?))
                    .ok()?
            }
            ScheduleExpression::Cron(cron) => {
                let mut from = self.zone.wall_time(after);
                loop {
                    let wall = cron.next_wall_time(from)?;
                    match self.zone.instant_of(wall, true) {
                        Some(instant) if instant >= after => break instant,
                        // In a gap, or the second pass of a repeated hour: not a firing.
                        _ => from = wall.checked_add(SignedDuration::from_secs(60)).ok()?,
                    }
                }
            }
        };
        self.end.is_none_or(|end| instant <= end).then_some(instant)
    }

    /// The firing after the one at `fired`.
    pub fn following(&self, fired: Timestamp) -> Option<Timestamp> {
        if self.expression.is_one_time() {
            return None;
        }
        self.first(fired.checked_add(SignedDuration::from_secs(1)).ok()?)
    }

    /// The next `count` firings from `after` on.
    pub fn upcoming(&self, after: Timestamp, count: usize) -> Vec<Timestamp> {
        let mut firings = Vec::with_capacity(count);
        let mut next = self.first(after);
        while let Some(instant) = next.filter(|_| firings.len() < count) {
            firings.push(instant);
            next = self.following(instant);
        }
        firings
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn timing(expression: &str, zone: &str) -> Timing {
        Timing {
            expression: ScheduleExpression::parse(expression).unwrap(),
            zone: ScheduleZone::named(zone).unwrap(),
            start: None,
            end: None,
            anchor: None,
        }
    }

    fn at(text: &str) -> Timestamp {
        text.parse().unwrap()
    }

    /// The next firings, as UTC RFC 3339 times.
    fn upcoming(timing: &Timing, after: &str, count: usize) -> Vec<String> {
        timing
            .upcoming(at(after), count)
            .into_iter()
            .map(|t| t.strftime("%Y-%m-%dT%H:%M:%SZ").to_string())
            .collect()
    }

    #[test]
    fn zones_are_iana_names_as_written() {
        for name in [
            "Asia/Tokyo",
            "America/New_York",
            "US/Eastern",
            "UTC",
            "Europe/London",
        ] {
            assert!(ScheduleZone::named(name).is_ok(), "{name}");
        }
        for name in ["Mars/Base", "localtime", "EST+5", "asia/tokyo", ""] {
            let refused = ScheduleZone::named(name).unwrap_err().0;
            assert!(
                refused.contains("is not an IANA time zone name"),
                "{name}: {refused}"
            );
        }
    }

    #[test]
    fn a_weekly_cron_fires_at_its_wall_time_in_tokyo() {
        // Mondays 03:00 in Tokyo (UTC+9, no daylight saving) are Sundays 18:00 UTC.
        let weekly = timing("cron(0 3 ? * MON *)", "Asia/Tokyo");
        assert_eq!(
            upcoming(&weekly, "2026-11-30T00:00:00Z", 3),
            [
                "2026-12-06T18:00:00Z",
                "2026-12-13T18:00:00Z",
                "2026-12-20T18:00:00Z"
            ]
        );
        let zone = &weekly.zone;
        assert_eq!(
            zone.local_rfc3339(at("2026-12-06T18:00:00Z")),
            "2026-12-07T03:00:00+09:00"
        );
    }

    #[test]
    fn a_cron_time_in_the_spring_gap_is_skipped_in_new_york() {
        // 2026-03-08: 02:00 EST becomes 03:00 EDT; 02:30 does not exist that day.
        let nightly = timing("cron(30 2 * * ? *)", "America/New_York");
        assert_eq!(
            upcoming(&nightly, "2026-03-07T00:00:00Z", 3),
            // 02:30 EST = 07:30Z; then 02:30 EDT = 06:30Z.
            [
                "2026-03-07T07:30:00Z",
                "2026-03-09T06:30:00Z",
                "2026-03-10T06:30:00Z"
            ]
        );
    }

    #[test]
    fn a_repeated_cron_time_fires_once_in_the_autumn_in_new_york() {
        // 2026-11-01: 02:00 EDT becomes 01:00 EST; 01:30 happens twice, fired at the first.
        let nightly = timing("cron(30 1 * * ? *)", "America/New_York");
        assert_eq!(
            upcoming(&nightly, "2026-10-31T12:00:00Z", 3),
            [
                "2026-11-01T05:30:00Z",
                "2026-11-02T06:30:00Z",
                "2026-11-03T06:30:00Z"
            ]
        );
        // Every half hour: 00:00-01:30 EDT, then nothing in the hour's second pass, then 02:00 EST.
        let half_hourly = timing("cron(0/30 * * * ? *)", "America/New_York");
        assert_eq!(
            upcoming(&half_hourly, "2026-11-01T04:00:00Z", 5),
            [
                "2026-11-01T04:00:00Z",
                "2026-11-01T04:30:00Z",
                "2026-11-01T05:00:00Z",
                "2026-11-01T05:30:00Z",
                "2026-11-01T07:00:00Z"
            ]
        );
    }

    #[test]
    fn a_rate_counts_elapsed_time_across_a_change() {
        let mut daily = timing("rate(1 day)", "America/New_York");
        daily.start = Some(at("2026-03-07T12:00:00Z"));
        // 07:00 EST, then 08:00 EDT: 24 hours apart, an hour later on the wall clock.
        assert_eq!(
            upcoming(&daily, "2026-03-01T00:00:00Z", 3),
            [
                "2026-03-07T12:00:00Z",
                "2026-03-08T12:00:00Z",
                "2026-03-09T12:00:00Z"
            ]
        );
        let zone = &daily.zone;
        assert_eq!(
            zone.local_rfc3339(at("2026-03-07T12:00:00Z")),
            "2026-03-07T07:00:00-05:00"
        );
        assert_eq!(
            zone.local_rfc3339(at("2026-03-08T12:00:00Z")),
            "2026-03-08T08:00:00-04:00"
        );
        // Without a start a rate begins at its anchor (creation).
        let mut minutely = timing("rate(1 minute)", "UTC");
        minutely.anchor = Some(at("2026-12-01T10:00:30Z"));
        assert_eq!(
            upcoming(&minutely, "2026-12-01T10:05:00Z", 2),
            ["2026-12-01T10:05:30Z", "2026-12-01T10:06:30Z"]
        );
    }

    #[test]
    fn at_fires_once_and_a_gap_time_at_the_offset_before_the_change() {
        let once = timing("at(2026-03-08T02:30:00)", "America/New_York");
        // 02:30 does not exist; EST's offset gives 07:30Z, which is 03:30 EDT.
        assert_eq!(
            upcoming(&once, "2026-01-01T00:00:00Z", 5),
            ["2026-03-08T07:30:00Z"]
        );
        let repeated = timing("at(2026-11-01T01:30:00)", "America/New_York");
        assert_eq!(
            upcoming(&repeated, "2026-01-01T00:00:00Z", 5),
            ["2026-11-01T05:30:00Z"]
        );
        let tokyo = timing("at(2026-12-01T09:00:00)", "Asia/Tokyo");
        assert_eq!(
            upcoming(&tokyo, "2027-01-01T00:00:00Z", 5),
            ["2026-12-01T00:00:00Z"]
        );
    }

    #[test]
    fn start_and_end_bound_a_recurring_schedule() {
        let mut daily = timing("cron(0 12 * * ? *)", "UTC");
        daily.start = Some(at("2026-12-03T00:00:00Z"));
        daily.end = Some(at("2026-12-05T12:00:00Z"));
        assert_eq!(
            upcoming(&daily, "2026-12-01T00:00:00Z", 5),
            [
                "2026-12-03T12:00:00Z",
                "2026-12-04T12:00:00Z",
                "2026-12-05T12:00:00Z"
            ]
        );
    }

    #[test]
    fn the_special_day_fields_pick_the_days_quartz_does() {
        // December 2026: the 1st is a Tuesday, the 31st a Thursday.
        let last_day = timing("cron(0 0 L * ? *)", "UTC");
        assert_eq!(
            upcoming(&last_day, "2026-12-01T00:00:00Z", 2),
            ["2026-12-31T00:00:00Z", "2027-01-31T00:00:00Z"]
        );
        // The weekday nearest the 5th (a Saturday) is Friday the 4th; January 2027's last
        // weekday is Friday the 29th (the 31st is a Sunday).
        let nearest = timing("cron(0 0 5W * ? *)", "UTC");
        assert_eq!(
            upcoming(&nearest, "2026-12-01T00:00:00Z", 1),
            ["2026-12-04T00:00:00Z"]
        );
        let last_weekday = timing("cron(0 0 LW * ? *)", "UTC");
        assert_eq!(
            upcoming(&last_weekday, "2027-01-01T00:00:00Z", 1),
            ["2027-01-29T00:00:00Z"]
        );
        // The third Friday, the last Friday, and L alone (Saturday).
        let third_friday = timing("cron(0 0 ? * 6#3 *)", "UTC");
        assert_eq!(
            upcoming(&third_friday, "2026-12-01T00:00:00Z", 1),
            ["2026-12-18T00:00:00Z"]
        );
        let last_friday = timing("cron(0 0 ? * 6L *)", "UTC");
        assert_eq!(
            upcoming(&last_friday, "2026-12-01T00:00:00Z", 1),
            ["2026-12-25T00:00:00Z"]
        );
        let saturdays = timing("cron(0 0 ? * L *)", "UTC");
        assert_eq!(
            upcoming(&saturdays, "2026-12-01T00:00:00Z", 1),
            ["2026-12-05T00:00:00Z"]
        );
        // Years bound it: none after 2026.
        let this_year = timing("cron(0 0 1 * ? 2026)", "UTC");
        assert_eq!(
            upcoming(&this_year, "2026-11-15T00:00:00Z", 5),
            ["2026-12-01T00:00:00Z"]
        );
    }
}
