//! The recommendations table (partition key `pk`, TTL attribute `expires_at`): published lists
//! and each result set's pointer to its current version.

use std::collections::HashMap;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{
    AttributeValue, KeysAndAttributes, PutRequest, ReturnValue, ReturnValuesOnConditionCheckFailure,
    WriteRequest,
};
use aws_sdk_dynamodb::Client;
use recoflow_core::backoff::full_jitter;
use recoflow_core::delivery::{keys, Pointer, StoredList};
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{Published, RecommendationStore};
use tokio::task::JoinSet;

use crate::dynamodb::codec_error;
use crate::service_error;

/// Items per BatchWriteItem (DynamoDB's maximum).
const BATCH_ITEMS: usize = 25;
/// Keys per BatchGetItem (DynamoDB's maximum).
const GET_KEYS: usize = 100;
/// Tries per batch, counting the first; waits between them grow to `MAX_WAIT_MS`.
const BATCH_ATTEMPTS: u32 = 10;
const BASE_WAIT_MS: u64 = 50;
const MAX_WAIT_MS: u64 = 5_000;

pub struct DynamoRecommendations {
    client: Client,
    table: String,
    /// BatchWriteItem requests in flight at once.
    in_flight: usize,
}

impl DynamoRecommendations {
    pub fn new(client: Client, table: impl Into<String>, in_flight: usize) -> Self {
        Self {
            client,
            table: table.into(),
            in_flight: in_flight.max(1),
        }
    }
}

fn key(pk: String) -> HashMap<String, AttributeValue> {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk))])
}

fn encode_batch(lists: &[StoredList]) -> Result<Vec<WriteRequest>, ServiceError> {
    lists
        .iter()
        .map(|list| {
            let item = serde_dynamo::to_item(list).map_err(|e| codec_error("encode list", e))?;
            let put = PutRequest::builder()
                .set_item(Some(item))
                .build()
                .map_err(|e| codec_error("encode list", e))?;
            Ok(WriteRequest::builder().put_request(put).build())
        })
        .collect()
}

/// Writes one batch, retrying its unprocessed items and throttled calls with backoff and full
/// jitter until done or out of attempts.
async fn write_batch(
    client: Client,
    table: String,
    mut requests: Vec<WriteRequest>,
) -> Result<(), ServiceError> {
    for attempt in 1..=BATCH_ATTEMPTS {
        let result = client
            .batch_write_item()
            .request_items(&table, requests.clone())
            .send()
            .await;
        match result {
            Ok(output) => {
                requests = output
                    .unprocessed_items
                    .and_then(|mut unprocessed| unprocessed.remove(&table))
                    .unwrap_or_default();
                if requests.is_empty() {
                    return Ok(());
                }
            }
            Err(err) => {
                let err = service_error("DynamoDB", "BatchWriteItem", &err);
                if !matches!(err, ServiceError::Throttled { .. }) || attempt == BATCH_ATTEMPTS {
                    return Err(err);
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(full_jitter(
            BASE_WAIT_MS,
            attempt,
            MAX_WAIT_MS,
        )))
        .await;
    }
    Err(ServiceError::Throttled {
        service: "DynamoDB",
        operation: "BatchWriteItem",
        message: format!(
            "{} item(s) still unprocessed after {BATCH_ATTEMPTS} attempts",
            requests.len()
        ),
    })
}

#[async_trait]
impl RecommendationStore for DynamoRecommendations {
    async fn put_lists(&self, lists: Vec<StoredList>) -> Result<(), ServiceError> {
        let mut lists = lists.into_iter();
        let mut running = JoinSet::new();
        let mut first_error = None;
        loop {
            while first_error.is_none() && running.len() < self.in_flight {
                let batch: Vec<StoredList> = lists.by_ref().take(BATCH_ITEMS).collect();
                if batch.is_empty() {
                    break;
                }
                // Encoding in the task too: batches are encoded, signed and sent on every core.
                let (client, table) = (self.client.clone(), self.table.clone());
                running.spawn(async move { write_batch(client, table, encode_batch(&batch)?).await });
            }
            let Some(done) = running.join_next().await else {
                break;
            };
            let outcome = done.unwrap_or_else(|e| {
                Err(ServiceError::Failed {
                    service: "DynamoDB",
                    operation: "BatchWriteItem",
                    message: format!("the writing task ended abnormally: {e}"),
                })
            });
            if let Err(err) = outcome {
                // No new batches; the caller retries the whole stretch (puts are idempotent).
                first_error.get_or_insert(err);
            }
        }
        match first_error {
            Some(err) => Err(err),
            None => Ok(()),
        }
    }

    async fn get_lists(&self, wanted: &[String]) -> Result<HashMap<String, StoredList>, ServiceError> {
        let mut found = HashMap::new();
        let mut unique: Vec<&String> = wanted.iter().collect();
        unique.sort();
        unique.dedup();
        for chunk in unique.chunks(GET_KEYS) {
            let mut pending = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|k| key((*k).clone())).collect()))
                .build()
                .map_err(|e| codec_error("encode keys", e))?;
            for attempt in 1..=BATCH_ATTEMPTS {
                let output = match self
                    .client
                    .batch_get_item()
                    .request_items(&self.table, pending.clone())
                    .send()
                    .await
                {
                    Ok(output) => output,
                    Err(err) => {
                        // Throttled after the SDK's own retries: wait and try again, as for writes.
                        let err = service_error("DynamoDB", "BatchGetItem", &err);
                        if !matches!(err, ServiceError::Throttled { .. }) || attempt == BATCH_ATTEMPTS {
                            return Err(err);
                        }
                        tokio::time::sleep(Duration::from_millis(full_jitter(
                            BASE_WAIT_MS,
                            attempt,
                            MAX_WAIT_MS,
                        )))
                        .await;
                        continue;
                    }
                };
                for item in output
                    .responses
                    .and_then(|mut r| r.remove(&self.table))
                    .unwrap_or_default()
                {
                    let list: StoredList =
                        serde_dynamo::from_item(item).map_err(|e| codec_error("decode list", e))?;
                    found.insert(list.pk.clone(), list);
                }
                match output.unprocessed_keys.and_then(|mut u| u.remove(&self.table)) {
                    Some(rest) if !rest.keys().is_empty() => {
                        if attempt == BATCH_ATTEMPTS {
                            return Err(ServiceError::Throttled {
                                service: "DynamoDB",
                                operation: "BatchGetItem",
                                message: "keys still unprocessed after every attempt".into(),
                            });
                        }
                        pending = rest;
                        tokio::time::sleep(Duration::from_millis(full_jitter(
                            BASE_WAIT_MS,
                            attempt,
                            MAX_WAIT_MS,
                        )))
                        .await;
                    }
                    _ => break,
                }
            }
        }
        Ok(found)
    }

    async fn pointer(&self, result_set: &str) -> Result<Option<Pointer>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::pointer(result_set))))
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(|e| codec_error("decode pointer", e)))
            .transpose()
    }

    async fn publish(&self, pointer: &Pointer) -> Result<Published, ServiceError> {
        let item = serde_dynamo::to_item(pointer).map_err(|e| codec_error("encode pointer", e))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            // Versions sort by publication time: an older job finishing late never replaces a
            // newer version; the same version again (a retry) is allowed.
            .condition_expression("attribute_not_exists(pk) OR version <= :version")
            .expression_attribute_values(":version", AttributeValue::S(pointer.version.clone()))
            .return_values(ReturnValue::AllOld)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        let version_of = |item: Option<HashMap<String, AttributeValue>>| {
            item.and_then(|mut i| i.remove("version"))
                .and_then(|v| v.as_s().ok().cloned())
        };
        match result {
            Ok(output) => Ok(Published::Switched {
                previous: version_of(output.attributes),
            }),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => Ok(Published::Superseded {
                    current: version_of(failed.item.clone()).unwrap_or_default(),
                }),
                _ => Err(service_error("DynamoDB", "PutItem", &err)),
            },
        }
    }
}
