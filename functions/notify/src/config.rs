//! What the function reads from its environment, once, at start-up.

use std::time::Duration;

use serde::Deserialize;

use crate::state_functions::StateFunctions;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub jobs_table: String,
    pub notifications_table: String,
    /// Pointers, version records and result-set entries (held versions, freshness).
    pub recommendations_table: String,
    /// Where the charts of held versions go (`charts/<result set>/<version>/<metric>.png`), and
    /// where audiences are (their manifests and CSVs).
    pub results_bucket: String,
    /// Seconds in one of the forms' `expect_refresh_hours` (3600; the local stack uses 1).
    pub freshness_hour_seconds: u32,
    /// SSM parameter holding the Slack webhook URL (a SecureString).
    pub slack_webhook_parameter: String,
    /// SSM parameter that may hold an IAM user's access key (a SecureString, JSON
    /// `access_key_id`, `secret_access_key`) to sign download and chart URLs with, so they
    /// last their 7 days; absent, the role signs them and they last hours.
    pub download_signing_key_parameter: String,
    /// SSM parameter holding the REST API's base URL (the stack's ApiUrl output), for links to
    /// `GET /jobs/{id}`.
    pub api_url_parameter: String,
    /// Set by Lambda; for links to the console.
    pub aws_region: String,
    pub state_functions: StateFunctions,
    pub slack_retry_budget_seconds: u32,
    pub fold_window_seconds: u32,
    pub fold_max_messages: u32,
}

/// What the handlers go by.
#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub region: String,
    /// Function names by state machine state, for links to the failed function's logs.
    pub state_functions: StateFunctions,
    /// Delivery gives up after this long (retries included).
    pub retry_budget: Duration,
    pub fold_window_seconds: u32,
    pub fold_max_messages: u32,
    pub results_bucket: String,
    /// How long presigned URLs are signed for: a held version's charts, an audience's CSVs
    /// (they work that long when the download signing key signs them; the role's, for hours).
    pub presigned_url_lifetime: Duration,
    pub freshness_hour_seconds: u32,
}

/// The longest a SigV4 presigned URL may live: Slack fetches a chart within it, and a reader
/// downloads an audience within it.
pub const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

impl Config {
    pub fn settings(&self) -> NotifySettings {
        NotifySettings {
            region: self.aws_region.clone(),
            state_functions: self.state_functions.clone(),
            retry_budget: Duration::from_secs(self.slack_retry_budget_seconds.into()),
            fold_window_seconds: self.fold_window_seconds,
            fold_max_messages: self.fold_max_messages,
            results_bucket: self.results_bucket.clone(),
            presigned_url_lifetime: PRESIGNED_URL_LIFETIME,
            freshness_hour_seconds: self.freshness_hour_seconds,
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::config::from_iter;

    use super::*;

    fn vars(state_functions: &str) -> Vec<(String, String)> {
        [
            ("JOBS_TABLE", "jobs"),
            ("NOTIFICATIONS_TABLE", "notifications"),
            ("RECOMMENDATIONS_TABLE", "recommendations"),
            ("RESULTS_BUCKET", "results"),
            ("FRESHNESS_HOUR_SECONDS", "3600"),
            ("SLACK_WEBHOOK_PARAMETER", "/recoflow/slack-webhook"),
            ("API_URL_PARAMETER", "/recoflow/api-url"),
            ("DOWNLOAD_SIGNING_KEY_PARAMETER", "/recoflow/download-signing-key"),
            ("AWS_REGION", "us-east-1"),
            ("STATE_FUNCTIONS", state_functions),
            ("SLACK_RETRY_BUDGET_SECONDS", "180"),
            ("FOLD_WINDOW_SECONDS", "60"),
            ("FOLD_MAX_MESSAGES", "3"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect()
    }

    #[test]
    fn the_environment_gives_the_settings() {
        let config: Config = from_iter(vars("Prepare=p,RunPhases=r,Deliver=d")).unwrap();
        let settings = config.settings();
        assert_eq!(settings.retry_budget, Duration::from_secs(180));
        assert_eq!(settings.region, "us-east-1");
        assert_eq!(
            (settings.results_bucket.as_str(), settings.freshness_hour_seconds),
            ("results", 3600)
        );
        assert_eq!(
            settings.state_functions,
            StateFunctions::parse("Prepare=p,RunPhases=r,Deliver=d").unwrap()
        );
    }

    #[test]
    fn a_missing_or_malformed_state_functions_fails_the_start_naming_it() {
        let missing = vars("");
        let err = from_iter::<Config>(missing).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: environment variable STATE_FUNCTIONS is not set"
        );
        let err = from_iter::<Config>(vars("TRAINING")).unwrap_err();
        assert!(err.to_string().contains("STATE_FUNCTIONS: `TRAINING`"), "{err}");
    }
}
