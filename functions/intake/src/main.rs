//! Lambda `intake`: S3 ObjectCreated under submissions/ in the forms bucket.

mod config;
mod error;
mod handler;
mod live;
mod ports;
mod rejected;
mod submission;
#[cfg(test)]
mod tests;
mod valid;

use aws_lambda_events::event::s3::S3Event;
use recoflow_aws::clients::{DynamoDb, Scheduler, StepFunctions};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{
    DynamoJobStore, DynamoScheduleStore, DynamoTriggerStore, EventBridgeScheduler, S3Objects, SfnExecutions,
};
use recoflow_core::clock::SystemClock;
use recoflow_core::validation::ValidationRules;

use config::Config;
use live::LiveIntakePorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let ports = LiveIntakePorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        executions: SfnExecutions::new(StepFunctions::new(&sdk), &config.state_machine_arn),
        schedules: DynamoScheduleStore::new(dynamodb.clone(), &config.schedules_table),
        scheduler: EventBridgeScheduler::new(Scheduler::new(&sdk), config.scheduler_target()),
        triggers: DynamoTriggerStore::new(dynamodb, &config.triggers_table),
        objects: S3Objects::from_sdk(&sdk),
        clock: SystemClock,
        rules: ValidationRules::from_allow_list(&config.allowed_data_buckets)
            .with_image_repositories(&config.allowed_image_repositories),
    };
    serve(|event: S3Event| handler::handle_event(&ports, event)).await
}
