//! Lambda `record-failure`: state `RecordFailure` of statemachines/job.asl.json.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::clients::DynamoDb;
use recoflow_aws::{load_sdk_config, DynamoJobStore};
use recoflow_core::config::required_env;

use handler::{handle, FailedJob, RecordFailureDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let sdk = load_sdk_config().await;
    let deps = RecordFailureDeps {
        jobs: DynamoJobStore::new(DynamoDb::new(&sdk), jobs_table),
    };
    run(service_fn(|event: LambdaEvent<FailedJob>| {
        handle(&deps, event.payload)
    }))
    .await
}
