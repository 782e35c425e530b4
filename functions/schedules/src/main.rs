//! Lambda `schedules`: starts jobs from stored forms on their own. The target of the recurring
//! forms' EventBridge Scheduler schedules (a firing starts its job), of the rule on the job
//! executions' end (a queued firing's job starts when the one it waited for ends), of the data
//! bucket's S3 notifications (a trigger watching a written file gets a delayed check) and of
//! the trigger-check state machine (the check starts the trigger's job).

mod config;
mod error;
mod event;
mod handler;
mod live;

use recoflow_aws::clients::{DynamoDb, StepFunctions};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{DynamoJobStore, DynamoScheduleStore, DynamoTriggerStore, S3Objects, SfnExecutions};
use recoflow_core::clock::SystemClock;

use config::Config;
use event::Invocation;
use live::LiveSchedulesPorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let sfn = StepFunctions::new(&sdk);
    let ports = LiveSchedulesPorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        executions: SfnExecutions::new(sfn.clone(), &config.state_machine_arn),
        schedules: DynamoScheduleStore::new(dynamodb.clone(), &config.schedules_table),
        triggers: DynamoTriggerStore::new(dynamodb, &config.triggers_table),
        checks: SfnExecutions::new(sfn, &config.trigger_check_state_machine_arn),
        objects: S3Objects::from_sdk(&sdk),
        clock: SystemClock,
    };
    serve(|invocation: Invocation| handler::handle(&ports, invocation)).await
}
