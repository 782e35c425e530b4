//! What intake works with: the jobs table, the executions, the forms bucket, the time and the
//! validation rules (in Lambda, `live`; in tests, the fakes).

use recoflow_core::ports::{Clock, Executions, JobStore, ObjectStore};
use recoflow_core::validation::ValidationRules;

pub trait IntakePorts: Send + Sync {
    type Jobs: JobStore;
    type Executions: Executions;
    type Objects: ObjectStore;
    type Clock: Clock;
    fn jobs(&self) -> &Self::Jobs;
    fn executions(&self) -> &Self::Executions;
    fn objects(&self) -> &Self::Objects;
    fn clock(&self) -> &Self::Clock;
    fn rules(&self) -> &ValidationRules;
}

/// Declares a struct holding one value per port and its [`IntakePorts`] implementation: the
/// live ports (`live.rs`) and the tests' fakes differ only in these types.
macro_rules! intake_ports_struct {
    ($name:ident {
        jobs: $jobs:ty,
        executions: $executions:ty,
        objects: $objects:ty,
        clock: $clock:ty $(,)?
    }) => {
        pub struct $name {
            pub jobs: $jobs,
            pub executions: $executions,
            pub objects: $objects,
            pub clock: $clock,
            pub rules: recoflow_core::validation::ValidationRules,
        }

        impl $crate::ports::IntakePorts for $name {
            type Jobs = $jobs;
            type Executions = $executions;
            type Objects = $objects;
            type Clock = $clock;

            fn jobs(&self) -> &Self::Jobs {
                &self.jobs
            }

            fn executions(&self) -> &Self::Executions {
                &self.executions
            }

            fn objects(&self) -> &Self::Objects {
                &self.objects
            }

            fn clock(&self) -> &Self::Clock {
                &self.clock
            }

            fn rules(&self) -> &recoflow_core::validation::ValidationRules {
                &self.rules
            }
        }
    };
}
pub(crate) use intake_ports_struct;
