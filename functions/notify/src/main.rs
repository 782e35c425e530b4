//! Lambda `notify`: Slack messages for failed, rejected and (when asked) succeeded jobs.

mod handler;
#[cfg(test)]
mod tests;

use std::time::Duration;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::clients::{DynamoDb, Ssm};
use recoflow_aws::lambda::SystemClock;
use recoflow_aws::{load_sdk_config, DynamoFolds, DynamoJobStore, HttpsPoster, S3Objects, SsmSecret};
use recoflow_core::config::{required_env, required_u32};

use handler::{handle, NotifyDeps, NotifyEvent, NotifySettings};

/// How long the webhook URL read from SSM is trusted: a rotated URL is used within this time.
const WEBHOOK_MAX_AGE: Duration = Duration::from_secs(30);
/// One webhook call may take this long.
const POST_TIMEOUT: Duration = Duration::from_secs(10);

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let notifications_table = required_env("NOTIFICATIONS_TABLE")?;
    let webhook_parameter = required_env("SLACK_WEBHOOK_PARAMETER")?;
    // Function names for links to logs, by the job status their failures leave.
    let functions = required_env("FUNCTIONS_BY_STATUS")?
        .split(',')
        .filter_map(|pair| pair.split_once('='))
        .map(|(status, function)| (status.trim().to_owned(), function.trim().to_owned()))
        .collect();
    let settings = NotifySettings {
        region: required_env("AWS_REGION")?,
        functions,
        retry_budget: Duration::from_secs(required_u32("SLACK_RETRY_BUDGET_SECONDS")?.into()),
        fold_window_seconds: required_u32("FOLD_WINDOW_SECONDS")?,
        fold_max_messages: required_u32("FOLD_MAX_MESSAGES")?,
    };
    let sdk = load_sdk_config().await;
    let dynamodb = DynamoDb::new(&sdk);
    let deps = NotifyDeps {
        jobs: DynamoJobStore::new(dynamodb.clone(), jobs_table),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        folds: DynamoFolds::new(dynamodb, notifications_table),
        webhook: SsmSecret::new(Ssm::new(&sdk), webhook_parameter, WEBHOOK_MAX_AGE),
        api_url: SsmSecret::new(
            Ssm::new(&sdk),
            required_env("API_URL_PARAMETER")?,
            WEBHOOK_MAX_AGE,
        ),
        poster: HttpsPoster::new(POST_TIMEOUT),
        clock: SystemClock,
        settings,
    };
    run(service_fn(|event: LambdaEvent<NotifyEvent>| {
        handle(&deps, event.payload)
    }))
    .await
}
