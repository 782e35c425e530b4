//! The ports in Lambda: the SDK adapters and the system clock, built once at init.

use recoflow_aws::clients::DynamoDb;
use recoflow_aws::{DynamoJobStore, DynamoRecommendations, S3Objects};
use recoflow_core::clock::SystemClock;

use crate::config::DeliverConfig;
use crate::ports::{DeliverPorts, DeliverSettings};

/// BatchWriteItem requests in flight at once.
const WRITES_IN_FLIGHT: usize = 8;

pub struct LivePorts {
    jobs: DynamoJobStore,
    objects: S3Objects,
    lists: DynamoRecommendations,
    clock: SystemClock,
    settings: DeliverSettings,
    /// For the write budget's share of each invocation.
    config: DeliverConfig,
}

impl LivePorts {
    pub fn new(config: &DeliverConfig, dynamodb: DynamoDb, objects: S3Objects) -> Self {
        Self {
            jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
            objects,
            lists: DynamoRecommendations::new(
                dynamodb,
                &config.recommendations_table,
                &config.jobs_table,
                WRITES_IN_FLIGHT,
            )
            // Until a step says how many parts share it: as one of every worker.
            .with_write_budget(config.worker_write_units_per_second(u64::MAX)),
            clock: SystemClock,
            settings: config.settings(),
            config: config.clone(),
        }
    }
}

impl DeliverPorts for LivePorts {
    type Jobs = DynamoJobStore;
    type Objects = S3Objects;
    type Lists = DynamoRecommendations;
    type Versions = DynamoRecommendations;
    type Clock = SystemClock;

    fn jobs(&self) -> &DynamoJobStore {
        &self.jobs
    }

    fn objects(&self) -> &S3Objects {
        &self.objects
    }

    fn lists(&self) -> &DynamoRecommendations {
        &self.lists
    }

    /// The same table as the lists: version records and result-set entries sit beside them.
    fn versions(&self) -> &DynamoRecommendations {
        &self.lists
    }

    fn clock(&self) -> &SystemClock {
        &self.clock
    }

    fn settings(&self) -> &DeliverSettings {
        &self.settings
    }

    /// One invocation at a time per process: the share is this invocation's.
    fn writing_one_of(&self, parts: u64) {
        self.lists
            .set_write_budget(self.config.worker_write_units_per_second(parts));
    }
}
