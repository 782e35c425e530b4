//! Lambda `record-failure`: state `RecordFailure` of statemachines/job.asl.json.

mod config;
mod error;
mod handler;
mod live;
mod ports;

use recoflow_aws::clients::DynamoDb;
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::DynamoJobStore;
use recoflow_core::task::RecordFailureTask;

use config::Config;
use live::LiveRecordFailurePorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let ports = LiveRecordFailurePorts {
        jobs: DynamoJobStore::new(DynamoDb::new(&sdk), config.jobs_table),
    };
    serve(|task: RecordFailureTask| handler::handle(&ports, task)).await
}
