//! The function's ports in Lambda: the SDK adapters, built once per instance.

use recoflow_aws::{DynamoJobStore, DynamoScheduleStore, DynamoTriggerStore, S3Objects, SfnExecutions};
use recoflow_core::clock::SystemClock;
use recoflow_core::schedule::firing::FiringPorts;
use recoflow_core::trigger::ports::TriggerPorts;

pub struct LiveSchedulesPorts {
    pub jobs: DynamoJobStore,
    pub executions: SfnExecutions,
    pub schedules: DynamoScheduleStore,
    pub triggers: DynamoTriggerStore,
    /// Executions of the trigger-check state machine.
    pub checks: SfnExecutions,
    /// The data bucket: the watched files' heads.
    pub objects: S3Objects,
    pub clock: SystemClock,
}

impl FiringPorts for LiveSchedulesPorts {
    type Jobs = DynamoJobStore;
    type Executions = SfnExecutions;
    type Schedules = DynamoScheduleStore;
    type Triggers = DynamoTriggerStore;
    type Clock = SystemClock;

    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
    fn executions(&self) -> &Self::Executions {
        &self.executions
    }
    fn schedules(&self) -> &Self::Schedules {
        &self.schedules
    }
    fn triggers(&self) -> &Self::Triggers {
        &self.triggers
    }
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
}

impl TriggerPorts for LiveSchedulesPorts {
    type Checks = SfnExecutions;
    type Objects = S3Objects;

    fn checks(&self) -> &Self::Checks {
        &self.checks
    }
    fn objects(&self) -> &Self::Objects {
        &self.objects
    }
}
