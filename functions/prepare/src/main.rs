//! Lambda `prepare`: state `Prepare` of statemachines/job.asl.json.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_core::aws::{load_sdk_config, DynamoJobStore, S3Objects};
use recoflow_core::config::required_env;

use handler::{handle, PrepareDeps, PrepareInput};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_core::telemetry::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let sdk = load_sdk_config().await;
    let deps = PrepareDeps {
        jobs: DynamoJobStore::new(aws_sdk_dynamodb::Client::new(&sdk), jobs_table),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
    };
    run(service_fn(|event: LambdaEvent<PrepareInput>| {
        handle(&deps, event.payload)
    }))
    .await
}
