//! Time, as a port: handlers read the time and sleep through a [`Clock`], real in Lambda
//! ([`SystemClock`]) and simulated in tests (`fakes::FakeClock`), so no test waits for real.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use time::OffsetDateTime;

#[async_trait]
pub trait Clock: Send + Sync {
    /// Monotonic time, for budgets and deadlines.
    fn now(&self) -> Instant;
    /// Wall-clock time (UTC), for what is written down: leases, versions, record times.
    fn utc(&self) -> OffsetDateTime;
    async fn sleep(&self, duration: Duration);

    /// Unix seconds now.
    fn unix_now(&self) -> i64 {
        self.utc().unix_timestamp()
    }

    /// Now as RFC 3339 UTC with milliseconds, as records keep it.
    fn rfc3339_now(&self) -> String {
        rfc3339(self.utc())
    }

    /// Whole seconds from an RFC 3339 time until now (0 if it does not parse or is ahead).
    fn seconds_since(&self, rfc3339_time: &str) -> u64 {
        parse_rfc3339(rfc3339_time)
            .map(|at| (self.utc() - at).whole_seconds().max(0) as u64)
            .unwrap_or(0)
    }
}

/// Real time.
pub struct SystemClock;

#[async_trait]
impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }

    fn utc(&self) -> OffsetDateTime {
        OffsetDateTime::now_utc()
    }

    async fn sleep(&self, duration: Duration) {
        tokio::time::sleep(duration).await;
    }
}

/// RFC 3339 UTC with milliseconds, e.g. `2026-12-01T07:40:07.123Z`.
pub fn rfc3339(at: OffsetDateTime) -> String {
    let format = time::macros::format_description!(
        "[year]-[month]-[day]T[hour]:[minute]:[second].[subsecond digits:3]Z"
    );
    let utc = at.to_offset(time::UtcOffset::UTC);
    utc.format(&format)
        .unwrap_or_else(|_| utc.unix_timestamp().to_string())
}

pub fn parse_rfc3339(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339).ok()
}

/// The real time now, for adapters stamping what they write (handlers use their [`Clock`]).
pub fn now_rfc3339() -> String {
    rfc3339(OffsetDateTime::now_utc())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_round_trip_through_rfc3339() {
        let at = OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap();
        let text = rfc3339(at);
        assert_eq!(text, "2023-11-14T22:13:20.000Z");
        assert_eq!(parse_rfc3339(&text), Some(at));
        assert_eq!(parse_rfc3339("yesterday"), None);
    }
}
