//! The placements table (partition `pk`, sort `sk`): each placement's latest revision at
//! `pk = latest, sk = <placement>` (listed by name with one query), and every revision at
//! `pk = history#<placement>, sk = <revision, ten digits>`. A write puts both in one
//! transaction, only on top of the revision it expects.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{AttributeValue, Put, TransactWriteItem};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::placement::PlacementRecord;
use recoflow_core::ports::{Page, PlacementStore};
use serde::{Deserialize, Serialize};

use crate::dynamodb::codec_error;
use crate::service_error;

const LATEST: &str = "latest";

type Item = HashMap<String, AttributeValue>;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn history_pk(placement: &str) -> String {
    format!("history#{placement}")
}

fn revision_sk(revision: u64) -> String {
    format!("{revision:010}")
}

/// A revision as stored: the document as JSON text (what was validated, exactly).
#[derive(Serialize, Deserialize)]
struct StoredRevision {
    pk: String,
    sk: String,
    placement: String,
    revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    document: Option<String>,
    updated_by: String,
    updated_at: String,
}

impl StoredRevision {
    fn of(record: &PlacementRecord, pk: String, sk: String) -> Result<Self, ServiceError> {
        let document = record
            .document
            .as_ref()
            .map(serde_json::to_string)
            .transpose()
            .map_err(|e| codec_error("encode placement", e))?;
        Ok(Self {
            pk,
            sk,
            placement: record.placement.clone(),
            revision: record.revision,
            document,
            updated_by: record.updated_by.clone(),
            updated_at: record.updated_at.clone(),
        })
    }

    fn record(self) -> Result<PlacementRecord, ServiceError> {
        let document = self
            .document
            .map(|text| serde_json::from_str(&text))
            .transpose()
            .map_err(|e| codec_error("decode placement", e))?;
        Ok(PlacementRecord {
            placement: self.placement,
            revision: self.revision,
            document,
            updated_by: self.updated_by,
            updated_at: self.updated_at,
        })
    }
}

fn decode(item: Item) -> Result<PlacementRecord, ServiceError> {
    serde_dynamo::from_item::<_, StoredRevision>(item)
        .map_err(|e| codec_error("decode placement", e))?
        .record()
}

pub struct DynamoPlacements {
    client: Client,
    table: String,
}

impl DynamoPlacements {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn put(
        &self,
        stored: &StoredRevision,
        condition: &str,
        revision: Option<u64>,
    ) -> Result<TransactWriteItem, ServiceError> {
        let item = serde_dynamo::to_item(stored).map_err(|e| codec_error("encode placement", e))?;
        let mut put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression(condition);
        if let Some(revision) = revision {
            put = put.expression_attribute_values(":expected", AttributeValue::N(revision.to_string()));
        }
        let put = put.build().map_err(|e| codec_error("build placement put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

#[async_trait]
impl PlacementStore for DynamoPlacements {
    async fn latest(&self, placement: &str) -> Result<Option<PlacementRecord>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .key("pk", s(LATEST))
            .key("sk", s(placement))
            // A write decides on what it reads here.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output.item.map(decode).transpose()
    }

    async fn list(&self, limit: u32, after: Option<&str>) -> Result<Page<PlacementRecord>, ServiceError> {
        let wanted = limit as usize + 1;
        let mut live = Vec::new();
        let mut start =
            after.map(|after| HashMap::from([("pk".to_owned(), s(LATEST)), ("sk".to_owned(), s(after))]));
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk")
                .expression_attribute_values(":pk", s(LATEST))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "Query", &e))?;
            for item in output.items.unwrap_or_default() {
                let record = decode(item)?;
                if !record.is_deleted() {
                    live.push(record);
                }
            }
            start = output.last_evaluated_key;
            if live.len() >= wanted || start.is_none() {
                break;
            }
        }
        let more = live.len() > limit as usize;
        live.truncate(limit as usize);
        let next = more.then(|| live.last().map(|r| r.placement.clone())).flatten();
        Ok((live, next))
    }

    async fn write(&self, record: &PlacementRecord) -> Result<bool, ServiceError> {
        let latest = StoredRevision::of(record, LATEST.to_owned(), record.placement.clone())?;
        let history = StoredRevision::of(
            record,
            history_pk(&record.placement),
            revision_sk(record.revision),
        )?;
        let expected = record.revision.saturating_sub(1);
        let latest_put = if expected == 0 {
            self.put(&latest, "attribute_not_exists(pk)", None)?
        } else {
            self.put(&latest, "revision = :expected", Some(expected))?
        };
        let history_put = self.put(&history, "attribute_not_exists(pk)", None)?;
        match self
            .client
            .transact_write_items()
            .transact_items(latest_put)
            .transact_items(history_put)
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled))
                    if cancelled
                        .cancellation_reasons()
                        .iter()
                        .any(|r| r.code() == Some("ConditionalCheckFailed")) =>
                {
                    Ok(false)
                }
                _ => Err(service_error("DynamoDB", "TransactWriteItems", &err)),
            },
        }
    }

    async fn history(&self, placement: &str, limit: u32) -> Result<Vec<PlacementRecord>, ServiceError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", s(&history_pk(placement)))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "Query", &e))?;
        output.items.unwrap_or_default().into_iter().map(decode).collect()
    }
}
