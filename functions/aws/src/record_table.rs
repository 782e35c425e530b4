//! A table of records that change by one conditional put on their `revision` and are listed
//! newest first by a `RecentIndex` (`listing`, `created_at`): the schedules and triggers tables.
//! Said once here; each store names its table, its key attribute and its listing.

use std::collections::HashMap;

use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::dynamodb::codec_error;
use crate::service_error;

/// The index of existing records by creation time.
const RECENT_INDEX: &str = "RecentIndex";

pub(crate) struct RecordTable {
    pub client: Client,
    pub table: String,
    /// The partition key's attribute (`schedule_id`, `pk`).
    pub key: &'static str,
    /// What the records are, for error messages (`schedule record`).
    pub what: &'static str,
}

/// Outcome of a conditional create: new, or the record already there.
pub(crate) enum Put<T> {
    New,
    Existing(T),
}

impl RecordTable {
    pub fn key_of(&self, id: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([(self.key.to_owned(), AttributeValue::S(id.to_owned()))])
    }

    fn decode<T: DeserializeOwned>(&self, item: HashMap<String, AttributeValue>) -> Result<T, ServiceError> {
        serde_dynamo::from_item(item).map_err(|err| codec_error(self.what, err))
    }

    fn encode<T: Serialize>(&self, record: &T) -> Result<HashMap<String, AttributeValue>, ServiceError> {
        serde_dynamo::to_item(record).map_err(|err| codec_error(self.what, err))
    }

    pub async fn get<T: DeserializeOwned>(&self, id: &str) -> Result<Option<T>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(self.key_of(id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output.item.map(|item| self.decode(item)).transpose()
    }

    /// Puts the record (key `id`) only if no record has its key; else the one there.
    pub async fn create<T: Serialize + DeserializeOwned>(
        &self,
        id: &str,
        record: &T,
    ) -> Result<Put<T>, ServiceError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.encode(record)?))
            .condition_expression(format!("attribute_not_exists({})", self.key))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(Put::New),
            Err(err) => err,
        };
        use aws_sdk_dynamodb::operation::put_item::PutItemError;
        let existing = match err.as_service_error() {
            Some(PutItemError::ConditionalCheckFailedException(failed)) => failed.item.clone(),
            _ => return Err(service_error("DynamoDB", "PutItem", &err)),
        };
        // The table sends the existing item back; an old endpoint may not: read it.
        let existing = match existing {
            Some(item) => Some(self.decode(item)?),
            None => self.get(id).await?,
        };
        existing
            .map(Put::Existing)
            .ok_or_else(|| service_error("DynamoDB", "PutItem", &err))
    }

    /// Puts the record only if the stored one is still at `read_revision`.
    pub async fn replace<T: Serialize>(&self, record: &T, read_revision: u64) -> Result<bool, ServiceError> {
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(self.encode(record)?))
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

    /// Records of `listing`, newest first: at most `limit` after the cursor `after`
    /// (`<created_at>~<id>`), and the cursor of the next page.
    pub async fn recent<T: DeserializeOwned>(
        &self,
        listing: String,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<T>, Option<String>), ServiceError> {
        let start = after
            .and_then(|cursor| cursor.rsplit_once('~'))
            .map(|(created_at, id)| {
                let mut start = self.key_of(id);
                start.insert("listing".to_owned(), AttributeValue::S(listing.clone()));
                start.insert("created_at".to_owned(), AttributeValue::S(created_at.to_owned()));
                start
            });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECENT_INDEX)
            .key_condition_expression("listing = :listing")
            .expression_attribute_values(":listing", AttributeValue::S(listing))
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
            .map(|item| self.decode(item))
            .collect::<Result<Vec<_>, _>>()?;
        let next = output.last_evaluated_key.and_then(|key| {
            let text = |name: &str| key.get(name).and_then(|v| v.as_s().ok()).cloned();
            Some(format!("{}~{}", text("created_at")?, text(self.key)?))
        });
        Ok((records, next))
    }
}
