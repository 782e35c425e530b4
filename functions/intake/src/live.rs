//! The ports in Lambda: the SDK adapters and the system clock.

use recoflow_aws::{
    DynamoJobStore, DynamoScheduleStore, DynamoTriggerStore, EventBridgeScheduler, S3Objects, SfnExecutions,
};
use recoflow_core::clock::SystemClock;

use crate::ports::intake_ports_struct;

intake_ports_struct!(LiveIntakePorts {
    jobs: DynamoJobStore,
    executions: SfnExecutions,
    schedules: DynamoScheduleStore,
    scheduler: EventBridgeScheduler,
    triggers: DynamoTriggerStore,
    objects: S3Objects,
    clock: SystemClock,
});
