//! What intake works with: the jobs table, the executions, the schedules table and the
//! Scheduler (a recurring form becomes a schedule), the triggers table (a data-driven form
//! becomes a trigger), the forms bucket, the time and the
//! validation rules (in Lambda, `live`; in tests, the fakes). Submitting goes through the one
//! submit path, whose ports (`SubmitPorts`) these are too.

use recoflow_core::ports::ObjectStore;
use recoflow_core::submit::SubmitPorts;
use recoflow_core::validation::ValidationRules;

pub trait IntakePorts: SubmitPorts {
    type Objects: ObjectStore;
    fn objects(&self) -> &Self::Objects;
    fn rules(&self) -> &ValidationRules;
}

/// Declares a struct holding one value per port and its [`IntakePorts`] implementation: the
/// live ports (`live.rs`) and the tests' fakes differ only in these types.
macro_rules! intake_ports_struct {
    ($name:ident {
        jobs: $jobs:ty,
        executions: $executions:ty,
        schedules: $schedules:ty,
        scheduler: $scheduler:ty,
        triggers: $triggers:ty,
        objects: $objects:ty,
        clock: $clock:ty $(,)?
    }) => {
        pub struct $name {
            pub jobs: $jobs,
            pub executions: $executions,
            pub schedules: $schedules,
            pub scheduler: $scheduler,
            pub triggers: $triggers,
            pub objects: $objects,
            pub clock: $clock,
            pub rules: recoflow_core::validation::ValidationRules,
        }

        impl recoflow_core::schedule::firing::FiringPorts for $name {
            type Jobs = $jobs;
            type Executions = $executions;
            type Schedules = $schedules;
            type Triggers = $triggers;
            type Clock = $clock;

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

        impl recoflow_core::submit::SubmitPorts for $name {
            type Scheduler = $scheduler;

            fn scheduler(&self) -> &Self::Scheduler {
                &self.scheduler
            }
        }

        impl $crate::ports::IntakePorts for $name {
            type Objects = $objects;

            fn objects(&self) -> &Self::Objects {
                &self.objects
            }

            fn rules(&self) -> &recoflow_core::validation::ValidationRules {
                &self.rules
            }
        }
    };
}
pub(crate) use intake_ports_struct;
