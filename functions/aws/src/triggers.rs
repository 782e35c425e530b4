//! The triggers table (partition key `pk`): one item per trigger (`pk` = its id; each change one
//! conditional put on the item's `revision`), and one per watched data file (`pk` =
//! `watch#<S3 URI>`, the string set `trigger_ids`, changed by ADD and DELETE, so two triggers
//! watching one file never overwrite each other).

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::trigger::ports::{TriggerCreated, TriggerStore};
use recoflow_core::trigger::record::trigger_listing;
use recoflow_core::trigger::{TriggerId, TriggerRecord};

use crate::record_table::{Put, RecordTable};
use crate::service_error;

pub struct DynamoTriggerStore {
    table: RecordTable,
}

impl DynamoTriggerStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            table: RecordTable {
                client,
                table: table.into(),
                key: "pk",
                what: "trigger record",
            },
        }
    }

    /// Adds (`ADD`) or removes (`DELETE`) the trigger in each file's watch item.
    async fn change_watches(
        &self,
        action: &str,
        id: &TriggerId,
        uris: &[String],
    ) -> Result<(), ServiceError> {
        for uri in uris {
            self.table
                .client
                .update_item()
                .table_name(&self.table.table)
                .set_key(Some(self.table.key_of(&watch_key(uri))))
                .update_expression(format!("{action} trigger_ids :ids"))
                .expression_attribute_values(":ids", AttributeValue::Ss(vec![id.to_string()]))
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        }
        Ok(())
    }
}

fn watch_key(uri: &str) -> String {
    format!("watch#{uri}")
}

#[async_trait]
impl TriggerStore for DynamoTriggerStore {
    async fn get(&self, id: &TriggerId) -> Result<Option<TriggerRecord>, ServiceError> {
        self.table.get(id.as_str()).await
    }

    async fn create(&self, record: &TriggerRecord) -> Result<TriggerCreated, ServiceError> {
        Ok(
            match self.table.create(record.trigger_id.as_str(), record).await? {
                Put::New => TriggerCreated::New,
                Put::Existing(existing) => TriggerCreated::AlreadyExists(Box::new(existing)),
            },
        )
    }

    async fn replace(&self, record: &TriggerRecord, read_revision: u64) -> Result<bool, ServiceError> {
        self.table.replace(record, read_revision).await
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<TriggerRecord>, Option<String>), ServiceError> {
        self.table.recent(trigger_listing(), limit, after).await
    }

    async fn watch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError> {
        self.change_watches("ADD", id, uris).await
    }

    async fn unwatch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError> {
        self.change_watches("DELETE", id, uris).await
    }

    async fn watching(&self, uri: &str) -> Result<Vec<TriggerId>, ServiceError> {
        let output = self
            .table
            .client
            .get_item()
            .table_name(&self.table.table)
            .set_key(Some(self.table.key_of(&watch_key(uri))))
            .projection_expression("trigger_ids")
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        let ids = output
            .item
            .and_then(|item| item.get("trigger_ids").and_then(|ids| ids.as_ss().ok()).cloned())
            .unwrap_or_default();
        Ok(ids.iter().filter_map(|id| TriggerId::parse(id)).collect())
    }
}
