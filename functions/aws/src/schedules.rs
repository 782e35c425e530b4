//! The schedules table: one item per schedule (partition key `schedule_id`), each change one
//! conditional put on the item's `revision`.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{ScheduleCreated, ScheduleStore};
use recoflow_core::schedule::record::schedule_listing;
use recoflow_core::schedule::{ScheduleId, ScheduleRecord};

use crate::dynamodb::codec_error;
use crate::service_error;

/// The schedules table's index of existing schedules by creation time.
const RECENT_INDEX: &str = "RecentIndex";

pub struct DynamoScheduleStore {
    client: Client,
    table: String,
}

impl DynamoScheduleStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

fn key(id: &ScheduleId) -> HashMap<String, AttributeValue> {
    HashMap::from([("schedule_id".to_owned(), AttributeValue::S(id.to_string()))])
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<ScheduleRecord, ServiceError> {
    serde_dynamo::from_item(item).map_err(|err| codec_error("decode schedule record", err))
}

fn encode(record: &ScheduleRecord) -> Result<HashMap<String, AttributeValue>, ServiceError> {
    serde_dynamo::to_item(record).map_err(|err| codec_error("encode schedule record", err))
}

#[async_trait]
impl ScheduleStore for DynamoScheduleStore {
    async fn get(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output.item.map(decode).transpose()
    }

    async fn create(&self, record: &ScheduleRecord) -> Result<ScheduleCreated, ServiceError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression("attribute_not_exists(schedule_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(ScheduleCreated::New),
            Err(err) => err,
        };
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let existing = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
            _ => return Err(service_error("DynamoDB", "PutItem", &err)),
        };
        // The table sends the existing item back; an old endpoint may not: read it.
        let existing = match existing {
            Some(item) => Some(decode(item)?),
            None => self.get(&record.schedule_id).await?,
        };
        existing
            .map(|r| ScheduleCreated::AlreadyExists(Box::new(r)))
            .ok_or_else(|| service_error("DynamoDB", "PutItem", &err))
    }

    async fn replace(&self, record: &ScheduleRecord, read_revision: u64) -> Result<bool, ServiceError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(encode(record)?))
            .condition_expression("revision = :read")
            .expression_attribute_values(":read", AttributeValue::N(read_revision.to_string()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(true),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(false)
            }
            Err(err) => Err(service_error("DynamoDB", "PutItem", &err)),
        }
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<ScheduleRecord>, Option<String>), ServiceError> {
        let start = after
            .and_then(|cursor| cursor.rsplit_once('~'))
            .map(|(created_at, id)| {
                HashMap::from([
                    ("listing".to_owned(), AttributeValue::S(schedule_listing())),
                    ("created_at".to_owned(), AttributeValue::S(created_at.to_owned())),
                    ("schedule_id".to_owned(), AttributeValue::S(id.to_owned())),
                ])
            });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECENT_INDEX)
            .key_condition_expression("listing = :listing")
            .expression_attribute_values(":listing", AttributeValue::S(schedule_listing()))
            .scan_index_forward(false)
            .limit(limit.clamp(1, 100) as i32)
            .set_exclusive_start_key(start)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "Query", &e))?;
        let records = output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode)
            .collect::<Result<Vec<_>, _>>()?;
        let next = output.last_evaluated_key.and_then(|key| {
            let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
            Some(format!("{}~{}", text("created_at")?, text("schedule_id")?))
        });
        Ok((records, next))
    }
}
