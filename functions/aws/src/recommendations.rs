//! The recommendations table (partition key `pk`, TTL attribute `expires_at`): published lists
//! and each result set's pointer to its current version. The pointer is written in one
//! transaction with a check on its job's record in the jobs table.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{
    AttributeValue, CancellationReason, KeysAndAttributes, Put, PutRequest,
    ReturnValuesOnConditionCheckFailure, TransactWriteItem, Update, WriteRequest,
};
use aws_sdk_dynamodb::Client;
use recoflow_core::backoff::full_jitter;
use recoflow_core::delivery::{keys, Pointer, StoredList};
use recoflow_core::errors::ServiceError;
use recoflow_core::job::JobStatus;
use recoflow_core::ports::{Published, RecommendationStore};
use recoflow_core::write_budget::WriteBudget;
use tokio::task::JoinSet;

use crate::dynamodb::{codec_error, job_key};
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
    pub(crate) client: Client,
    pub(crate) table: String,
    /// The jobs table: a pointer moves only while its job is `DELIVERING` there.
    jobs_table: String,
    /// BatchWriteItem requests in flight at once.
    in_flight: usize,
    /// Write units a second the writes may spend (shared by the batches in flight); none:
    /// as fast as the table takes them.
    budget: Option<Arc<Mutex<WriteBudget>>>,
}

impl DynamoRecommendations {
    pub fn new(
        client: Client,
        table: impl Into<String>,
        jobs_table: impl Into<String>,
        in_flight: usize,
    ) -> Self {
        Self {
            client,
            table: table.into(),
            jobs_table: jobs_table.into(),
            in_flight: in_flight.max(1),
            budget: None,
        }
    }

    /// Writes spend at most `units_per_second` write units a second, less while the table
    /// throttles them (`core::write_budget`).
    pub fn with_write_budget(mut self, units_per_second: u32) -> Self {
        self.budget = Some(Arc::new(Mutex::new(WriteBudget::new(
            units_per_second,
            Instant::now(),
        ))));
        self
    }

    /// A new budget for the writes from now on (none set: nothing changes).
    pub fn set_write_budget(&self, units_per_second: u32) {
        if let Some(budget) = &self.budget {
            budget
                .lock()
                .unwrap_or_else(|poisoned| poisoned.into_inner())
                .set_budget(units_per_second);
        }
    }

    /// The check that the pointer's job is still `DELIVERING` (its record sent back if not),
    /// marking it `made_current`: an update, not a mere check, so that a cancel arriving after
    /// the pointer moved finds the mark and is refused (`dynamodb.rs`, transition).
    fn job_delivering(&self, pointer: &Pointer) -> Result<TransactWriteItem, ServiceError> {
        let update = Update::builder()
            .table_name(&self.jobs_table)
            .set_key(Some(job_key(&pointer.job_id)))
            .update_expression("SET made_current = :version")
            .condition_expression("#status = :delivering")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(
                ":delivering",
                AttributeValue::S(JobStatus::Delivering.as_str().to_owned()),
            )
            .expression_attribute_values(":version", AttributeValue::S(pointer.version.clone()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| codec_error("encode job mark", e))?;
        Ok(TransactWriteItem::builder().update(update).build())
    }

    /// The pointer's put, unless a newer version is current (the current one sent back if so).
    fn pointer_put(&self, pointer: &Pointer) -> Result<TransactWriteItem, ServiceError> {
        let item = serde_dynamo::to_item(pointer).map_err(|e| codec_error("encode pointer", e))?;
        let put = Put::builder()
            .table_name(&self.table)
            .set_item(Some(item))
            // Versions sort by submission: an older job finishing late never replaces a newer
            // version; the same version again (a retry) is allowed.
            .condition_expression("attribute_not_exists(pk) OR version <= :version")
            .expression_attribute_values(":version", AttributeValue::S(pointer.version.clone()))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .build()
            .map_err(|e| codec_error("encode pointer", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    }
}

/// What a cancelled publish transaction says: its job moved on, or a newer version is current.
/// The reasons come in the order of the transaction's items (the job's mark, then the put).
fn refused_publish(reasons: &[CancellationReason]) -> Option<Published> {
    let failed = |reason: &CancellationReason| reason.code() == Some("ConditionalCheckFailed");
    let text = |reason: &CancellationReason, name: &str| {
        reason
            .item()
            .and_then(|item| item.get(name))
            .and_then(|v| v.as_s().ok())
            .cloned()
    };
    match reasons {
        [job, ..] if failed(job) => Some(Published::JobNotDelivering {
            status: text(job, "status").and_then(|s| s.parse::<JobStatus>().ok()),
        }),
        [_, current, ..] if failed(current) => Some(Published::Superseded {
            current: text(current, "version").unwrap_or_default(),
        }),
        _ => None,
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

/// DynamoDB's size of a value, near enough to count write units: names and strings by their
/// bytes, numbers by their digits, lists and maps with their overhead.
fn value_bytes(value: &AttributeValue) -> usize {
    match value {
        AttributeValue::S(text) => text.len(),
        AttributeValue::N(number) => number.len().div_ceil(2) + 1,
        AttributeValue::L(values) => 3 + values.iter().map(|v| 1 + value_bytes(v)).sum::<usize>(),
        AttributeValue::M(map) => {
            3 + map
                .iter()
                .map(|(name, v)| 1 + name.len() + value_bytes(v))
                .sum::<usize>()
        }
        AttributeValue::Ss(texts) => texts.iter().map(String::len).sum(),
        AttributeValue::Ns(numbers) => numbers.iter().map(|n| n.len().div_ceil(2) + 1).sum(),
        AttributeValue::B(blob) => blob.as_ref().len(),
        _ => 1,
    }
}

/// The write units a batch's puts cost: one per started kilobyte of each item.
fn write_units(requests: &[WriteRequest]) -> u32 {
    requests
        .iter()
        .filter_map(|request| request.put_request())
        .map(|put| {
            let bytes: usize = put
                .item()
                .iter()
                .map(|(name, value)| name.len() + value_bytes(value))
                .sum();
            bytes.div_ceil(1024).max(1) as u32
        })
        .sum()
}

/// Waits until the budget has the batch's units, then spends them.
async fn spend(budget: Option<&Mutex<WriteBudget>>, requests: &[WriteRequest]) {
    let Some(budget) = budget else { return };
    let wait = budget
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .take(write_units(requests), Instant::now());
    if !wait.is_zero() {
        tokio::time::sleep(wait).await;
    }
}

fn heard_throttle(budget: Option<&Mutex<WriteBudget>>) {
    if let Some(budget) = budget {
        budget
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .throttled(Instant::now());
    }
}

/// Writes one batch within the budget, retrying its unprocessed items and throttled calls with
/// backoff and full jitter until done or out of attempts. Both are the table pushing back:
/// the budget's rate goes down.
async fn write_batch(
    client: Client,
    table: String,
    mut requests: Vec<WriteRequest>,
    budget: Option<Arc<Mutex<WriteBudget>>>,
) -> Result<(), ServiceError> {
    let budget = budget.as_deref();
    for attempt in 1..=BATCH_ATTEMPTS {
        spend(budget, &requests).await;
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
                heard_throttle(budget);
            }
            Err(err) => {
                let err = service_error("DynamoDB", "BatchWriteItem", &err);
                if !matches!(err, ServiceError::Throttled { .. }) || attempt == BATCH_ATTEMPTS {
                    return Err(err);
                }
                heard_throttle(budget);
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
                let (client, table, budget) = (self.client.clone(), self.table.clone(), self.budget.clone());
                running.spawn(async move { write_batch(client, table, encode_batch(&batch)?, budget).await });
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
        let result = self
            .client
            .transact_write_items()
            .transact_items(self.job_delivering(pointer)?)
            .transact_items(self.pointer_put(pointer)?)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Published::Switched),
            Err(err) => match err.as_service_error() {
                Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) => {
                    refused_publish(cancelled.cancellation_reasons())
                        .ok_or_else(|| service_error("DynamoDB", "TransactWriteItems", &err))
                }
                _ => Err(service_error("DynamoDB", "TransactWriteItems", &err)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(item: HashMap<String, AttributeValue>) -> WriteRequest {
        let put = PutRequest::builder().set_item(Some(item)).build().unwrap();
        WriteRequest::builder().put_request(put).build()
    }

    #[test]
    fn a_put_costs_a_write_unit_per_started_kilobyte() {
        let small = HashMap::from([("pk".to_owned(), AttributeValue::S("u#1".into()))]);
        let items = (0..60)
            .map(|i| {
                AttributeValue::M(HashMap::from([
                    ("item_id".to_owned(), AttributeValue::S(format!("item-{i:05}"))),
                    ("score".to_owned(), AttributeValue::N("0.123456".into())),
                ]))
            })
            .collect();
        // 60 items of about 30 bytes each: between one and two kilobytes.
        let large = HashMap::from([
            ("pk".to_owned(), AttributeValue::S("u#2".into())),
            ("items".to_owned(), AttributeValue::L(items)),
        ]);
        assert_eq!(write_units(&[put(small.clone())]), 1);
        assert_eq!(write_units(&[put(large)]), 2);
        assert_eq!(write_units(&[put(small.clone()), put(small)]), 2);
    }
}
