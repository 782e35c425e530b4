//! Lambda `monitor`: the daily check of placements' KPIs (an EventBridge schedule; or invoked
//! with `{"day": "2026-12-01", "placement": "home-top"}`): alerts on KPIs outside their
//! seasonal bands, daily summaries, tests reaching significance.

mod alert_chart;
mod config;
mod error;
mod event;
#[cfg(test)]
mod fake;
mod glibc_hypot;
mod handler;
mod kpi_alerts;
mod live;
mod ports;
mod slack;
mod summary;
#[cfg(test)]
mod tests;

use std::time::Duration;

use recoflow_aws::clients::{DynamoDb, Ssm};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{
    DynamoAggregates, DynamoMonitoringLog, DynamoPlacements, HttpsPoster, S3Objects, SsmSecret,
};
use recoflow_core::clock::SystemClock;

use config::Config;
use event::MonitorEvent;
use live::LiveMonitorPorts;

/// How long the webhook URL read from SSM is trusted: a rotated URL is used within this time.
const WEBHOOK_MAX_AGE: Duration = Duration::from_secs(30);
/// One webhook call may take this long.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let ssm = Ssm::new(&sdk);
    let ports = LiveMonitorPorts {
        placements: DynamoPlacements::new(dynamodb.clone(), &config.placements_table),
        aggregates: DynamoAggregates::new(dynamodb.clone(), &config.events_table),
        log: DynamoMonitoringLog::new(dynamodb, &config.events_table),
        objects: S3Objects::from_sdk(&sdk),
        webhook: SsmSecret::new(ssm.clone(), &config.slack_webhook_parameter, WEBHOOK_MAX_AGE),
        api_url: SsmSecret::new(ssm, &config.api_url_parameter, WEBHOOK_MAX_AGE),
        poster: HttpsPoster::new(POST_TIMEOUT),
        clock: SystemClock,
        settings: config.settings(),
    };
    serve(|event: MonitorEvent| handler::handle(&ports, event)).await
}
