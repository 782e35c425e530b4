//! Lambda `prepare`: state `Prepare` of statemachines/job.asl.json.

mod config;
mod datasets;
mod error;
mod handler;
mod item_input;
mod live;
mod ports;
mod scoring_input;
#[cfg(test)]
mod tests;

use recoflow_aws::clients::DynamoDb;
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{DynamoJobStore, S3Objects};
use recoflow_core::scoring_parts::{PartLayout, PERSONALIZE_BATCH_USERS};
use recoflow_core::task::JobTask;

use config::Config;
use live::LivePreparePorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let ports = LivePreparePorts {
        jobs: DynamoJobStore::new(DynamoDb::new(&sdk), config.jobs_table),
        objects: S3Objects::from_sdk(&sdk),
        results_bucket: config.results_bucket,
        scoring_layout: PartLayout::new(config.scoring_part_users, PERSONALIZE_BATCH_USERS),
    };
    serve(|task: JobTask| handler::handle(&ports, task)).await
}
