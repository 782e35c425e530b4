//! Lambda `notify`: Slack messages for failed, rejected, held and (when asked) succeeded jobs,
//! and the freshness alerts of stale result sets.

mod config;
mod delivery;
mod error;
mod failure;
mod freshness;
mod handler;
mod held;
mod held_charts;
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
use recoflow_aws::{DynamoFolds, DynamoJobStore, DynamoRecommendations, HttpsPoster, S3Objects, SsmSecret};
use recoflow_core::clock::SystemClock;

use config::Config;
use handler::NotifyEvent;
use live::LiveNotifyPorts;

/// How long a secret read from SSM (the webhook URL, the signing key) is trusted: a rotated one
/// is used within this time.
const SECRET_MAX_AGE: Duration = Duration::from_secs(30);
/// One webhook call may take this long.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let ssm = Ssm::new(&sdk);
    let ports = LiveNotifyPorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        objects: S3Objects::from_sdk(&sdk).with_signing_key(SsmSecret::new(
            ssm.clone(),
            &config.download_signing_key_parameter,
            SECRET_MAX_AGE,
        )),
        // Notify reads pointers and versions and notes staleness; it writes no lists.
        recommendations: DynamoRecommendations::new(
            dynamodb.clone(),
            &config.recommendations_table,
            &config.jobs_table,
            1,
        ),
        folds: DynamoFolds::new(dynamodb, &config.notifications_table),
        webhook: SsmSecret::new(ssm.clone(), &config.slack_webhook_parameter, SECRET_MAX_AGE),
        api_url: SsmSecret::new(ssm, &config.api_url_parameter, SECRET_MAX_AGE),
        poster: HttpsPoster::new(POST_TIMEOUT),
        clock: SystemClock,
        settings: config.settings(),
    };
    serve(|event: NotifyEvent| handler::handle(&ports, event)).await
}
