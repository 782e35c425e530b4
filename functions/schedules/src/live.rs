//! The function's ports in Lambda: the SDK adapters, built once per instance.

use recoflow_aws::{DynamoJobStore, DynamoScheduleStore, SfnExecutions};
use recoflow_core::clock::SystemClock;
use recoflow_core::schedule::firing::FiringPorts;

pub struct LiveSchedulesPorts {
    pub jobs: DynamoJobStore,
    pub executions: SfnExecutions,
    pub schedules: DynamoScheduleStore,
    pub clock: SystemClock,
}

impl FiringPorts for LiveSchedulesPorts {
    type Jobs = DynamoJobStore;
    type Executions = SfnExecutions;
    type Schedules = DynamoScheduleStore;
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
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
}
