//! Lambda `deliver`: states `Deliver`, `DeliverScoreFile` (the Distributed Map's workers) and
//! `Publish` of statemachines/job.asl.json.

use deliver::config::DeliverConfig;
use deliver::handler::handle_input;
use deliver::live::LivePorts;
use recoflow_aws::clients::DynamoDb;
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::S3Objects;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<DeliverConfig>().await?;
    let ports = LivePorts::new(&config, DynamoDb::new(&sdk), S3Objects::from_sdk(&sdk));
    serve(|input: serde_json::Value| handle_input(&ports, input)).await
}
