//! Lambda `deliver`: state `Deliver` of statemachines/job.asl.json.

use std::time::Duration;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::clients::DynamoDb;
use recoflow_aws::{load_sdk_config, DynamoJobStore, DynamoRecommendations, S3Objects};
use recoflow_core::config::{required_env, required_u32};
use recoflow_core::task::JobTask;

use deliver::handler::{handle, DeliverDeps, DeliverSettings};

/// BatchWriteItem requests in flight at once.
const WRITES_IN_FLIGHT: usize = 8;

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let recommendations_table = required_env("RECOMMENDATIONS_TABLE")?;
    let max_skipped_percent = required_u32("MAX_SKIPPED_PERCENT")?;
    let settings = DeliverSettings {
        results_bucket: required_env("RESULTS_BUCKET")?,
        retention_seconds: required_u32("RESULT_RETENTION_DAYS")?.saturating_mul(86_400),
        budget: Duration::from_secs(required_u32("DELIVER_BUDGET_SECONDS")?.into()),
        max_skipped_share: f64::from(max_skipped_percent.min(100)) / 100.0,
    };
    let sdk = load_sdk_config().await;
    let dynamodb = DynamoDb::new(&sdk);
    let deps = DeliverDeps {
        jobs: DynamoJobStore::new(dynamodb.clone(), jobs_table),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        lists: DynamoRecommendations::new(dynamodb, recommendations_table, WRITES_IN_FLIGHT),
        settings,
    };
    run(service_fn(|event: LambdaEvent<JobTask>| {
        handle(&deps, event.payload)
    }))
    .await
}
