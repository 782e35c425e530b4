//! The function's configuration, read once at init from its environment variables.

use std::time::Duration;

use serde::Deserialize;

use crate::ports::DeliverSettings;

/// One field per environment variable (the variable's name in lower case).
#[derive(Debug, Clone, Deserialize)]
pub struct DeliverConfig {
    pub jobs_table: String,
    pub recommendations_table: String,
    pub results_bucket: String,
    /// How long a version's items live, in days.
    pub result_retention_days: u32,
    /// Writing time per invocation, in seconds.
    pub deliver_budget_seconds: u32,
    /// Largest percentage of score lines that may be errors (above 100 counts as 100).
    pub max_skipped_percent: u32,
    /// DynamoDB write units a second the lists' writes may spend (`DeliveryWriteUnitsPerSecond`),
    /// shared by the score files' workers.
    pub delivery_write_units_per_second: u32,
    /// Score files written at once (`DeliveryWorkers`: the Distributed Map's concurrency).
    pub delivery_workers: u32,
    /// Users per fallback share (`FallbackShareUsers`).
    pub fallback_share_users: u64,
}

impl DeliverConfig {
    /// One worker's share of the write budget when the delivery has `parts` (score files or
    /// fallback shares): the workers that run at once (`DeliveryWorkers`, or fewer when there
    /// are fewer parts) each have their own bucket of an equal share (at least one unit a
    /// second).
    pub fn worker_write_units_per_second(&self, parts: u64) -> u32 {
        let running = parts.clamp(1, u64::from(self.delivery_workers.max(1)));
        let share = u64::from(self.delivery_write_units_per_second) / running;
        u32::try_from(share).unwrap_or(u32::MAX).max(1)
    }
}

impl DeliverConfig {
    pub fn settings(&self) -> DeliverSettings {
        DeliverSettings {
            results_bucket: self.results_bucket.clone(),
            retention_seconds: self.result_retention_days.saturating_mul(86_400),
            budget: Duration::from_secs(self.deliver_budget_seconds.into()),
            max_skipped_share: f64::from(self.max_skipped_percent.min(100)) / 100.0,
            fallback_share_users: self.fallback_share_users.max(1),
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::config::from_iter;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(name, value)| (name.to_string(), value.to_string()))
            .collect()
    }

    const COMPLETE: [(&str, &str); 9] = [
        ("JOBS_TABLE", "jobs"),
        ("RECOMMENDATIONS_TABLE", "recommendations"),
        ("RESULTS_BUCKET", "results"),
        ("RESULT_RETENTION_DAYS", "2"),
        ("DELIVER_BUDGET_SECONDS", "600"),
        ("MAX_SKIPPED_PERCENT", "250"),
        ("DELIVERY_WRITE_UNITS_PER_SECOND", "10000"),
        ("DELIVERY_WORKERS", "8"),
        ("FALLBACK_SHARE_USERS", "5000000"),
    ];

    #[test]
    fn settings_come_from_the_variables_in_their_units() {
        let config: DeliverConfig = from_iter(vars(&COMPLETE)).unwrap();
        assert_eq!(config.delivery_write_units_per_second, 10_000);
        assert_eq!(
            config.worker_write_units_per_second(u64::MAX),
            1_250,
            "each of 8 workers a share"
        );
        assert_eq!(
            config.worker_write_units_per_second(4),
            2_500,
            "4 parts: 4 workers run"
        );
        assert_eq!(config.worker_write_units_per_second(0), 10_000);
        let settings = config.settings();
        assert_eq!(settings.results_bucket, "results");
        assert_eq!(settings.fallback_share_users, 5_000_000);
        assert_eq!(settings.retention_seconds, 2 * 86_400);
        assert_eq!(settings.budget, Duration::from_secs(600));
        assert_eq!(
            settings.max_skipped_share, 1.0,
            "a percentage above 100 counts as 100"
        );
    }

    #[test]
    fn a_missing_or_malformed_variable_is_named() {
        let missing = from_iter::<DeliverConfig>(vars(&COMPLETE[1..])).unwrap_err();
        assert!(missing.to_string().contains("JOBS_TABLE"), "{missing}");
        let mut malformed = COMPLETE;
        malformed[4] = ("DELIVER_BUDGET_SECONDS", "ten minutes");
        let malformed = from_iter::<DeliverConfig>(vars(&malformed)).unwrap_err();
        assert!(
            malformed.to_string().contains("DELIVER_BUDGET_SECONDS"),
            "{malformed}"
        );
    }
}
