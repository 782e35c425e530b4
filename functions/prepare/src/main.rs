//! Lambda `prepare`: state `Prepare` of statemachines/job.asl.json.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::clients::DynamoDb;
use recoflow_aws::{load_sdk_config, DynamoJobStore, S3Objects};
use recoflow_core::config::required_env;
use recoflow_core::task::JobTask;

use handler::{handle, PrepareDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let results_bucket = required_env("RESULTS_BUCKET")?;
    let sdk = load_sdk_config().await;
    let deps = PrepareDeps {
        jobs: DynamoJobStore::new(DynamoDb::new(&sdk), jobs_table),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        results_bucket,
    };
    run(service_fn(|event: LambdaEvent<JobTask>| {
        handle(&deps, event.payload)
    }))
    .await
}
