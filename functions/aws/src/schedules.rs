//! The schedules table: one item per schedule (partition key `schedule_id`), each change one
//! conditional put on the item's `revision` (`record_table`).

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{ScheduleCreated, ScheduleStore};
use recoflow_core::schedule::record::schedule_listing;
use recoflow_core::schedule::{ScheduleId, ScheduleRecord};

use crate::record_table::{Put, RecordTable};

pub struct DynamoScheduleStore {
    table: RecordTable,
}

impl DynamoScheduleStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: RecordTable {
                client,
                table: table.into(),
                key: "schedule_id",
                what: "schedule record",
            },
        }
    }
}

#[async_trait]
impl ScheduleStore for DynamoScheduleStore {
    async fn get(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, ServiceError> {
        self.table.get(id.as_str()).await
    }

    async fn create(&self, record: &ScheduleRecord) -> Result<ScheduleCreated, ServiceError> {
        Ok(
            match self.table.create(record.schedule_id.as_str(), record).await? {
                Put::New => ScheduleCreated::New,
                Put::Existing(existing) => ScheduleCreated::AlreadyExists(Box::new(existing)),
            },
        )
    }

    async fn replace(&self, record: &ScheduleRecord, read_revision: u64) -> Result<bool, ServiceError> {
        self.table.replace(record, read_revision).await
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<ScheduleRecord>, Option<String>), ServiceError> {
        self.table.recent(schedule_listing(), limit, after).await
    }
}
