//! The runner's configuration: its environment, read once at init (a missing or malformed
//! variable fails the init with its name), and the settings the steps read from it.

use std::time::Duration;

use serde::Deserialize;

/// The runner's environment variables, by their names in lower case.
#[derive(Debug, Clone, Deserialize)]
pub struct RunnerConfig {
    pub jobs_table: String,
    pub quota_table: String,
    /// The SSM parameter holding the quota limits (JSON).
    pub quota_limits_parameter: String,
    /// How long limits read from SSM are trusted before being read again.
    pub quota_limits_cache_seconds: u32,
    pub results_bucket: String,
    pub poll_seconds: u32,
    /// Looks at a phase grow with its age up to this (see `recoflow_core::history`).
    pub max_poll_seconds: u32,
    pub slot_lease_seconds: u32,
    pub phase_timeout_seconds: u32,
    pub max_launch_attempts: u32,
    pub relaunch_base_seconds: u32,
    /// The sweep looks at jobs submitted this many hours back.
    pub sweep_lookback_hours: u32,
    /// Timed retries of a job waiting for quota before it fails with `QuotaUnavailable`.
    pub quota_wait_attempts: u32,
    /// `WaitForQuota`'s timeout: a waiting job asks again after this long without a wake-up.
    pub quota_wake_up_timeout_seconds: u32,
    pub sagemaker_role_arn: String,
    pub personalize_role_arn: String,
    /// `arn:<partition>:personalize:<region>:<account>`, the start of every Personalize ARN.
    pub personalize_arn_prefix: String,
}

impl RunnerConfig {
    pub fn limits_max_age(&self) -> Duration {
        Duration::from_secs(self.quota_limits_cache_seconds.into())
    }

    pub fn settings(&self) -> RunnerSettings {
        RunnerSettings {
            results_bucket: self.results_bucket.clone(),
            poll_seconds: self.poll_seconds,
            max_poll_seconds: self.max_poll_seconds,
            lease_seconds: self.slot_lease_seconds,
            phase_timeout_seconds: self.phase_timeout_seconds,
            max_attempts: self.max_launch_attempts,
            relaunch_base_seconds: self.relaunch_base_seconds,
            sweep_lookback_hours: self.sweep_lookback_hours,
            quota_wait_attempts: self.quota_wait_attempts,
            quota_wake_up_timeout_seconds: self.quota_wake_up_timeout_seconds,
        }
    }
}

/// What the steps need to know besides their ports.
#[derive(Debug, Clone)]
pub struct RunnerSettings {
    pub results_bucket: String,
    /// Wait between two looks at a phase that has just started.
    pub poll_seconds: u32,
    /// Longest wait between two looks at a phase that has run long.
    pub max_poll_seconds: u32,
    /// A slot holder not renewed for this long is reclaimed (renewed at every look).
    pub lease_seconds: u32,
    /// A phase running longer than this (a container phase: its form's runtime and an hour,
    /// when longer) is stopped and fails the job.
    pub phase_timeout_seconds: u32,
    /// Launches per job resource: the first plus relaunches after platform failures.
    pub max_attempts: u32,
    /// First wait before a relaunch; doubled per attempt, fully jittered, capped by the poll
    /// interval times 10.
    pub relaunch_base_seconds: u32,
    /// How far back the sweep looks for jobs left running (their submission time).
    pub sweep_lookback_hours: u32,
    /// Timed retries (`WaitForQuota` timeouts) a job waiting for quota gets.
    pub quota_wait_attempts: u32,
    /// How long `WaitForQuota` waits for a wake-up before the job asks again.
    pub quota_wake_up_timeout_seconds: u32,
}

impl RunnerSettings {
    /// How long a job may wait for quota in one phase before it fails with `QuotaUnavailable`:
    /// its timed retries, each a wake-up timeout apart.
    pub fn quota_max_wait_seconds(&self) -> u64 {
        u64::from(self.quota_wait_attempts) * u64::from(self.quota_wake_up_timeout_seconds)
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::config::from_iter;

    use super::*;

    /// The runner's variables as the template sets them.
    fn template_vars() -> Vec<(String, String)> {
        [
            ("JOBS_TABLE", "jobs"),
            ("QUOTA_TABLE", "quota"),
            ("QUOTA_LIMITS_PARAMETER", "/recoflow/quota-limits"),
            ("QUOTA_LIMITS_CACHE_SECONDS", "60"),
            ("RESULTS_BUCKET", "results"),
            ("POLL_SECONDS", "30"),
            ("MAX_POLL_SECONDS", "900"),
            ("SLOT_LEASE_SECONDS", "900"),
            ("PHASE_TIMEOUT_SECONDS", "86400"),
            ("MAX_LAUNCH_ATTEMPTS", "3"),
            ("RELAUNCH_BASE_SECONDS", "30"),
            ("SWEEP_LOOKBACK_HOURS", "168"),
            ("QUOTA_WAIT_ATTEMPTS", "100"),
            ("QUOTA_WAKE_UP_TIMEOUT_SECONDS", "900"),
            ("SAGEMAKER_ROLE_ARN", "arn:aws:iam::000000000000:role/sagemaker"),
            (
                "PERSONALIZE_ROLE_ARN",
                "arn:aws:iam::000000000000:role/personalize",
            ),
            (
                "PERSONALIZE_ARN_PREFIX",
                "arn:aws:personalize:us-east-1:000000000000",
            ),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    #[test]
    fn the_settings_come_from_the_template_s_variables() {
        let config: RunnerConfig = from_iter(template_vars()).unwrap();
        let settings = config.settings();
        assert_eq!(settings.results_bucket, "results");
        assert_eq!(settings.poll_seconds, 30);
        assert_eq!(settings.max_poll_seconds, 900);
        assert_eq!(settings.lease_seconds, 900);
        assert_eq!(settings.phase_timeout_seconds, 86400);
        assert_eq!(settings.max_attempts, 3);
        assert_eq!(settings.relaunch_base_seconds, 30);
        assert_eq!(settings.quota_max_wait_seconds(), 90_000);
        assert_eq!(config.limits_max_age(), Duration::from_secs(60));
    }

    #[test]
    fn a_missing_or_malformed_variable_is_named() {
        let mut vars = template_vars();
        vars.retain(|(name, _)| name != "SLOT_LEASE_SECONDS");
        let missing = from_iter::<RunnerConfig>(vars).unwrap_err();
        assert!(missing.to_string().contains("SLOT_LEASE_SECONDS"), "{missing}");

        let vars = template_vars()
            .into_iter()
            .map(|(name, value)| match name.as_str() {
                "MAX_LAUNCH_ATTEMPTS" => (name, "three".to_owned()),
                _ => (name, value),
            });
        let malformed = from_iter::<RunnerConfig>(vars).unwrap_err();
        assert!(
            malformed.to_string().contains("MAX_LAUNCH_ATTEMPTS"),
            "{malformed}"
        );
    }
}
