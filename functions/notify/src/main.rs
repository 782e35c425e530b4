//! Lambda `notify`: Slack messages for failed, rejected and (when asked) succeeded jobs.

mod config;
mod delivery;
mod error;
mod failure;
mod handler;
mod job_record;
mod links;
mod live;
mod ports;
mod rejection;
mod state_functions;
mod success;
mod summary;
#[cfg(test)]
mod tests;

use std::time::Duration;

use recoflow_aws::clients::{DynamoDb, Ssm};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{DynamoFolds, DynamoJobStore, HttpsPoster, S3Objects, SsmSecret};
use recoflow_core::clock::SystemClock;

use config::Config;
use handler::NotifyEvent;
use live::LiveNotifyPorts;

/// How long the webhook URL read from SSM is trusted: a rotated URL is used within this time.
const WEBHOOK_MAX_AGE: Duration = Duration::from_secs(30);
/// One webhook call may take this long.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let ssm = Ssm::new(&sdk);
    let ports = LiveNotifyPorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        folds: DynamoFolds::new(dynamodb, &config.notifications_table),
        webhook: SsmSecret::new(ssm.clone(), &config.slack_webhook_parameter, WEBHOOK_MAX_AGE),
        api_url: SsmSecret::new(ssm, &config.api_url_parameter, WEBHOOK_MAX_AGE),
        poster: HttpsPoster::new(POST_TIMEOUT),
        clock: SystemClock,
        settings: config.settings(),
    };
    serve(|event: NotifyEvent| handler::handle(&ports, event)).await
}
