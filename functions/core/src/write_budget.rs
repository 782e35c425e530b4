//! The write budget a delivery spends: at most a configured number of DynamoDB write units a
//! second (`DeliveryWriteUnitsPerSecond`), so that a big job leaves the table's quota to the
//! API's reads and to other jobs. Within it the rate follows what the table says: cut to 70 %
//! when it throttles, probed back up by a fixed step a second while it does not (additive increase,
//! multiplicative decrease, as TCP does), never above the budget and never below a floor.
//!
//! Pure: the caller passes the monotonic time and does the waiting, so tests need no clock.

use std::time::{Duration, Instant};

/// The share of the budget the rate climbs back by per second without a throttle.
const INCREASE_SHARE_PER_SECOND: f64 = 0.05;
/// What a throttle leaves of the rate (gentler than halving: a table just below the budget
/// is then used at about 85 % of what it takes, not 75 %).
const DECREASE_FACTOR: f64 = 0.7;
/// The lowest rate, as a share of the budget: a throttled writer still makes progress.
const FLOOR_SHARE: f64 = 0.02;
/// Throttles closer together than this count once: the batches in flight when the table
/// pushed back all hear about it, and one push-back should cut the rate once, not n times.
const DECREASE_HOLD: Duration = Duration::from_millis(500);
/// How far ahead a writer may spend (a tenth of a second of its rate): smooth, no bursts.
const BURST_SECONDS: f64 = 0.1;

#[derive(Debug, Clone)]
pub struct WriteBudget {
    budget: f64,
    rate: f64,
    /// Units that may be spent now; negative when spending ran ahead (then the caller waits).
    tokens: f64,
    refilled_at: Instant,
    decreased_at: Option<Instant>,
    throttles: u64,
}

impl WriteBudget {
    /// A budget of `units_per_second` (at least 1), starting at its full rate.
    pub fn new(units_per_second: u32, now: Instant) -> Self {
        let budget = f64::from(units_per_second.max(1));
        Self {
            budget,
            rate: budget,
            tokens: 0.0,
            refilled_at: now,
            decreased_at: None,
            throttles: 0,
        }
    }

    /// A new budget (at least 1 unit a second): the rate keeps its share of it, so a writer
    /// backing off from a throttling table stays backed off.
    pub fn set_budget(&mut self, units_per_second: u32) {
        let budget = f64::from(units_per_second.max(1));
        self.rate = (self.rate * budget / self.budget).clamp(1.0, budget);
        self.budget = budget;
    }

    /// The units a second it may spend now.
    pub fn rate(&self) -> f64 {
        self.rate
    }

    /// Throttles heard (each one counted, whether or not it lowered the rate).
    pub fn throttles(&self) -> u64 {
        self.throttles
    }

    /// Spends `units` and says how long to wait before sending them (zero when the budget has
    /// them now). Concurrent writers each take their turn: the waits queue up at the rate.
    pub fn take(&mut self, units: u32, now: Instant) -> Duration {
        self.refill(now);
        self.tokens -= f64::from(units);
        if self.tokens >= 0.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64(-self.tokens / self.rate)
        }
    }

    /// The table throttled (an error, or items sent back unprocessed): cut the rate, once per
    /// push-back.
    pub fn throttled(&mut self, now: Instant) {
        self.refill(now);
        self.throttles += 1;
        if self
            .decreased_at
            .is_some_and(|at| now.saturating_duration_since(at) < DECREASE_HOLD)
        {
            return;
        }
        self.decreased_at = Some(now);
        self.rate = (self.rate * DECREASE_FACTOR).max(self.floor());
        // What was planned at the old rate waits at the new one.
        self.tokens = self.tokens.min(0.0);
    }

    fn floor(&self) -> f64 {
        (self.budget * FLOOR_SHARE).max(1.0)
    }

    fn refill(&mut self, now: Instant) {
        let elapsed = now.saturating_duration_since(self.refilled_at).as_secs_f64();
        if elapsed <= 0.0 {
            return;
        }
        self.refilled_at = now;
        let calm = self
            .decreased_at
            .is_none_or(|at| now.saturating_duration_since(at) >= DECREASE_HOLD);
        if calm {
            self.rate = (self.rate + self.budget * INCREASE_SHARE_PER_SECOND * elapsed).min(self.budget);
        }
        self.tokens = (self.tokens + self.rate * elapsed).min(self.rate * BURST_SECONDS);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Sends `units` a batch as fast as the budget lets one writer, for `seconds`, the table
    /// throttling whenever the last second's writes exceed `table_limit`; returns units sent and
    /// throttles.
    fn simulate(budget: u32, table_limit: f64, units: u32, seconds: f64) -> (f64, u64) {
        let start = Instant::now();
        let mut writer = WriteBudget::new(budget, start);
        let mut now = start;
        let mut sent = 0.0;
        let mut window: std::collections::VecDeque<(Instant, f64)> = Default::default();
        while now.duration_since(start).as_secs_f64() < seconds {
            now += writer.take(units, now);
            while window
                .front()
                .is_some_and(|(at, _)| now.duration_since(*at) >= Duration::from_secs(1))
            {
                window.pop_front();
            }
            let last_second: f64 = window.iter().map(|(_, u)| u).sum();
            if last_second + f64::from(units) > table_limit {
                writer.throttled(now);
                now += Duration::from_millis(20);
            } else {
                window.push_back((now, f64::from(units)));
                sent += f64::from(units);
            }
        }
        (sent, writer.throttles())
    }

    #[test]
    fn an_unthrottled_writer_spends_its_budget_and_no_more() {
        // 1,000 units a second in batches of 25 for 20 s: within 1 % of 20,000.
        let (sent, throttles) = simulate(1_000, f64::INFINITY, 25, 20.0);
        assert_eq!(throttles, 0);
        assert!((19_800.0..=20_200.0).contains(&sent), "sent {sent}");
    }

    #[test]
    fn a_table_below_the_budget_is_followed_with_few_throttles() {
        // The budget says 1,000 but the table takes 600 a second: the writer follows it (AIMD's
        // saw-tooth between 70 % and 100 % of it) and is throttled on a small share of its
        // batches.
        let (sent, throttles) = simulate(1_000, 600.0, 25, 60.0);
        let per_second = sent / 60.0;
        assert!((450.0..=600.0).contains(&per_second), "{per_second} units/s");
        let batches = sent / 25.0;
        assert!(
            (throttles as f64) < batches * 0.05,
            "{throttles} throttles over {batches} batches"
        );
    }

    #[test]
    fn a_throttle_cuts_the_rate_once_per_push_back_and_the_rate_climbs_back() {
        let start = Instant::now();
        let mut budget = WriteBudget::new(1_000, start);
        budget.throttled(start);
        budget.throttled(start + Duration::from_millis(10));
        budget.throttled(start + Duration::from_millis(100));
        assert_eq!(budget.rate(), 700.0, "three batches in flight hear one push-back");
        assert_eq!(budget.throttles(), 3);
        // 600 ms later: 30 units/s climbed back (5 % of the budget a second), then cut to 70 %.
        budget.throttled(start + Duration::from_millis(700));
        assert!((budget.rate() - 511.0).abs() < 1e-6, "{}", budget.rate());
        budget.take(0, start + Duration::from_millis(4_700));
        assert!((budget.rate() - 711.0).abs() < 1e-6, "{}", budget.rate());
        budget.take(0, start + Duration::from_secs(60));
        assert_eq!(budget.rate(), 1_000.0, "never above the budget");
    }

    #[test]
    fn a_new_budget_keeps_the_rate_s_share_of_it() {
        let start = Instant::now();
        let mut budget = WriteBudget::new(1000, start);
        budget.set_budget(4000);
        assert_eq!(budget.rate(), 4000.0, "full rate, full new budget");
        budget.throttled(start);
        assert_eq!(budget.rate(), 2800.0);
        budget.set_budget(2000);
        assert_eq!(budget.rate(), 1400.0, "backed off by as much");
        // A writer never throttled spends its new budget: 2,000 units a second over 10 s.
        let mut calm = WriteBudget::new(1000, start);
        calm.set_budget(2000);
        let (mut now, mut spent) = (start, 0.0f64);
        while now < start + Duration::from_secs(10) {
            now += calm.take(100, now);
            spent += 100.0;
        }
        assert!((spent / 10.0 - 2000.0).abs() < 50.0, "{}", spent / 10.0);
    }

    #[test]
    fn the_rate_never_falls_below_its_floor() {
        // A budget of 10: its floor is 1 unit a second, and a throttle every half second would
        // take the rate below it (0.7 × (1 + 0.25) < 1).
        let start = Instant::now();
        let mut budget = WriteBudget::new(10, start);
        for i in 0..20 {
            budget.throttled(start + Duration::from_millis(500 * i));
        }
        assert_eq!(budget.rate(), 1.0);
        assert!(budget.take(1, start + Duration::from_secs(10)) <= Duration::from_secs(1));
    }

    #[test]
    fn concurrent_takes_queue_up_at_the_rate() {
        let start = Instant::now();
        let mut budget = WriteBudget::new(100, start);
        let waits: Vec<Duration> = (0..4).map(|_| budget.take(25, start)).collect();
        let millis: Vec<u128> = waits.iter().map(Duration::as_millis).collect();
        assert_eq!(millis, vec![250, 500, 750, 1000]);
    }
}
