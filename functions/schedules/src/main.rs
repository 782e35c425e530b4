//! Lambda `schedules`: the target of the recurring forms' EventBridge Scheduler schedules (a
//! firing starts its job) and of the rule on the job executions' end (a queued firing's job
//! starts when the one it waited for ends).

mod config;
mod error;
mod event;
mod handler;
mod live;

use recoflow_aws::clients::{DynamoDb, StepFunctions};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{DynamoJobStore, DynamoScheduleStore, SfnExecutions};
use recoflow_core::clock::SystemClock;

use config::Config;
use event::SchedulesEvent;
use live::LiveSchedulesPorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<Config>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let ports = LiveSchedulesPorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        executions: SfnExecutions::new(StepFunctions::new(&sdk), &config.state_machine_arn),
        schedules: DynamoScheduleStore::new(dynamodb, &config.schedules_table),
        clock: SystemClock,
    };
    serve(|event: SchedulesEvent| handler::handle(&ports, event)).await
}
