//! Posting monitoring's messages, and the links they carry.

use recoflow_core::errors::ServiceError;
use recoflow_core::monitoring::messages::{dashboard_console_url, placement_page_url, MonitoringLinks};
use recoflow_core::ports::SecretSource;
use recoflow_core::webhook::post_within_budget;
use serde_json::Value;
use tracing::warn;

use crate::ports::MonitorPorts;

/// Posts a message within the retry budget: `true` when Slack took it. A message that could
/// not be delivered is logged, not retried by a later check (its note is already written).
pub async fn send<P: MonitorPorts>(ports: &P, kind: &str, message: &Value) -> Result<bool, ServiceError> {
    let Some(url) = ports.webhook().secret().await? else {
        warn!(
            kind,
            "no Slack webhook is configured (see the stack output SlackWebhookParameter)"
        );
        return Ok(false);
    };
    let budget = ports.settings().retry_budget;
    let sent = post_within_budget(ports.poster(), ports.clock(), &url, message, budget).await;
    if !sent.delivered {
        warn!(kind, attempts = sent.attempts, error = ?sent.last_error, "message not delivered");
    }
    Ok(sent.delivered)
}

/// The placement's page (when the API's URL is known) and the dashboard.
pub async fn links<P: MonitorPorts>(ports: &P, placement: &str) -> MonitoringLinks {
    let api_url = ports.api_url().secret().await.unwrap_or_else(|err| {
        warn!(error = %err, "no API URL; the placement's link is left out");
        None
    });
    let settings = ports.settings();
    MonitoringLinks {
        placement_page: api_url.map(|url| placement_page_url(&url, placement)),
        dashboard: Some(dashboard_console_url(&settings.region, &settings.dashboard_name)),
    }
}
