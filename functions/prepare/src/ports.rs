//! What Prepare works with: the jobs table, the data and results buckets (in Lambda, `live`;
//! in tests, the fakes).

use recoflow_core::ports::{JobStore, ObjectStore};
use recoflow_core::scoring_parts::PartLayout;

pub trait PreparePorts: Send + Sync {
    type Jobs: JobStore;
    type Objects: ObjectStore;
    fn jobs(&self) -> &Self::Jobs;
    fn objects(&self) -> &Self::Objects;
    /// Bucket of job outputs: the scoring input goes under `jobs/<job id>/input/users/`.
    fn results_bucket(&self) -> &str;
    /// How the scoring input is cut into parts and groups.
    fn scoring_layout(&self) -> PartLayout;
}

/// Declares a struct holding one value per port and its [`PreparePorts`] implementation: the
/// live ports (`live.rs`) and the tests' fakes differ only in these types.
macro_rules! prepare_ports_struct {
    ($name:ident { jobs: $jobs:ty, objects: $objects:ty $(,)? }) => {
        pub struct $name {
            pub jobs: $jobs,
            pub objects: $objects,
            pub results_bucket: String,
            pub scoring_layout: recoflow_core::scoring_parts::PartLayout,
        }

        impl $crate::ports::PreparePorts for $name {
            type Jobs = $jobs;
            type Objects = $objects;

            fn jobs(&self) -> &Self::Jobs {
                &self.jobs
            }

            fn objects(&self) -> &Self::Objects {
                &self.objects
            }

            fn results_bucket(&self) -> &str {
                &self.results_bucket
            }

            fn scoring_layout(&self) -> recoflow_core::scoring_parts::PartLayout {
                self.scoring_layout
            }
        }
    };
}
pub(crate) use prepare_ports_struct;
