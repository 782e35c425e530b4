//! What the function reads from its environment, once, at start-up.

use std::time::Duration;

use serde::Deserialize;

#[derive(Debug, Deserialize)]
pub struct Config {
    pub placements_table: String,
    /// The aggregates of placements' events, and monitoring's alerts and notes beside them.
    pub events_table: String,
    /// Where the alerts' charts go (`charts/placements/<placement>/<day>/<kpi>.png`).
    pub results_bucket: String,
    /// SSM parameter holding the Slack webhook URL (a SecureString).
    pub slack_webhook_parameter: String,
    /// SSM parameter holding the REST API's base URL, for links to the placement's page.
    pub api_url_parameter: String,
    /// The CloudWatch dashboard an alert links to.
    pub dashboard_name: String,
    /// Set by Lambda; for the dashboard's console link.
    pub aws_region: String,
    pub slack_retry_budget_seconds: u32,
}

/// What the handlers go by.
#[derive(Debug, Clone)]
pub struct MonitorSettings {
    pub region: String,
    pub dashboard_name: String,
    pub results_bucket: String,
    /// Delivery gives up after this long (retries included).
    pub retry_budget: Duration,
    /// How long a chart's presigned URL is signed for (signed by the role, it stops working
    /// sooner, when the role's session ends: Slack fetches it when the alert arrives).
    pub chart_url_lifetime: Duration,
}

/// The longest a SigV4 presigned URL may live: Slack and its readers fetch the chart within it.
pub const CHART_URL_LIFETIME: Duration = Duration::from_secs(7 * 86_400);

impl Config {
    pub fn settings(&self) -> MonitorSettings {
        MonitorSettings {
            region: self.aws_region.clone(),
            dashboard_name: self.dashboard_name.clone(),
            results_bucket: self.results_bucket.clone(),
            retry_budget: Duration::from_secs(self.slack_retry_budget_seconds.into()),
            chart_url_lifetime: CHART_URL_LIFETIME,
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::config::from_iter;

    use super::*;

    #[test]
    fn the_environment_gives_the_settings_and_a_missing_variable_is_named() {
        let mut vars: Vec<(String, String)> = [
            ("PLACEMENTS_TABLE", "placements"),
            ("EVENTS_TABLE", "events"),
            ("RESULTS_BUCKET", "results"),
            ("SLACK_WEBHOOK_PARAMETER", "/recoflow/slack-webhook"),
            ("API_URL_PARAMETER", "/recoflow/api-url"),
            ("DASHBOARD_NAME", "recoflow-serving"),
            ("AWS_REGION", "us-east-1"),
            ("SLACK_RETRY_BUDGET_SECONDS", "60"),
        ]
        .into_iter()
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect();
        let settings = from_iter::<Config>(vars.clone()).unwrap().settings();
        assert_eq!(settings.retry_budget, Duration::from_secs(60));
        assert_eq!(settings.dashboard_name, "recoflow-serving");
        vars.retain(|(name, _)| name != "DASHBOARD_NAME");
        let err = from_iter::<Config>(vars).unwrap_err();
        assert_eq!(
            err.to_string(),
            "configuration: environment variable DASHBOARD_NAME is not set"
        );
    }
}
