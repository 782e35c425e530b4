//! The events table (partition `pk`, sort `sk`, TTL attribute `expires_at`): the aggregates of
//! placements' events as sharded counters (`events::aggregates::keys`), the claims that make
//! each event id count once (`evt#<event id>`), and interleaved impressions' credits
//! (`ilv#<impression>`).

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::{
    day_text, keys, parse_day, sum_rows, AggregateKey, AggregateRow, Counts, AGGREGATE_RETENTION_DAYS,
    AGGREGATE_SHARDS,
};
use recoflow_core::ports::{AggregateStore, EventLedger};
use serde::Deserialize;
use time::Date;
use tokio::task::JoinSet;

use crate::dynamodb::codec_error;
use crate::service_error;

/// Conditional writes of one request's claims in flight at once.
const CLAIMS_IN_FLIGHT: usize = 32;
/// The sort key of items that need none.
const NO_SORT: &str = "-";

type Item = HashMap<String, AttributeValue>;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn n(number: impl ToString) -> AttributeValue {
    AttributeValue::N(number.to_string())
}

fn key(pk: String, sk: &str) -> Item {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk)), ("sk".to_owned(), s(sk))])
}

#[derive(Clone)]
pub struct DynamoAggregates {
    client: Client,
    table: String,
}

impl DynamoAggregates {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// One shard's items of the day range, every page.
    async fn read_shard(
        &self,
        placement: &str,
        shard: u32,
        from: Date,
        to: Date,
    ) -> Result<Vec<Item>, ServiceError> {
        let (low, high) = keys::sort_range(from, to);
        let mut items = Vec::new();
        let mut start = None;
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .key_condition_expression("pk = :pk AND sk BETWEEN :low AND :high")
                .expression_attribute_values(":pk", s(&keys::partition(placement, shard)))
                .expression_attribute_values(":low", s(&low))
                .expression_attribute_values(":high", s(&high))
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "Query", &e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if start.is_none() {
                return Ok(items);
            }
        }
    }
}

/// The key an aggregate item names (beside its counts).
#[derive(Deserialize)]
struct StoredKey {
    placement: String,
    day: String,
    arm: String,
    version: String,
}

fn decode_row(item: Item) -> Result<AggregateRow, ServiceError> {
    let stored: StoredKey =
        serde_dynamo::from_item(item.clone()).map_err(|e| codec_error("decode aggregate", e))?;
    let counts: Counts = serde_dynamo::from_item(item).map_err(|e| codec_error("decode aggregate", e))?;
    let day = parse_day(&stored.day)
        .ok_or_else(|| codec_error("decode aggregate", format!("day {:?}", stored.day)))?;
    Ok(AggregateRow {
        key: AggregateKey {
            placement: stored.placement,
            day,
            arm: stored.arm,
            version: stored.version,
        },
        counts,
    })
}

#[async_trait]
impl AggregateStore for DynamoAggregates {
    async fn add(&self, rows: &[AggregateRow]) -> Result<(), ServiceError> {
        for row in rows {
            let key_of = &row.key;
            let mut request = self
                .client
                .update_item()
                .table_name(&self.table)
                .set_key(Some(key(
                    keys::partition(&key_of.placement, keys::random_shard()),
                    &keys::sort(key_of.day, &key_of.arm, &key_of.version),
                )))
                .expression_attribute_values(":placement", s(&key_of.placement))
                .expression_attribute_values(":day", s(&day_text(key_of.day)))
                .expression_attribute_values(":arm", s(&key_of.arm))
                .expression_attribute_values(":version", s(&key_of.version))
                .expression_attribute_values(":expires", n(expires_at(key_of.day)));
            // Every name through a placeholder: DynamoDB reserves many words.
            for name in ["placement", "day", "arm", "version", "expires_at"] {
                request = request.expression_attribute_names(format!("#{name}"), name);
            }
            let mut added = Vec::new();
            for (name, value) in row.counts.fields().into_iter().filter(|(_, v)| *v != 0.0) {
                request = request
                    .expression_attribute_names(format!("#{name}"), name)
                    .expression_attribute_values(format!(":{name}"), n(value));
                added.push(format!("#{name} :{name}"));
            }
            let mut expression =
                "SET #placement = :placement, #day = :day, #arm = :arm, #version = :version, #expires_at = :expires"
                    .to_owned();
            if !added.is_empty() {
                expression.push_str(&format!(" ADD {}", added.join(", ")));
            }
            request
                .update_expression(expression)
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        }
        Ok(())
    }

    async fn read(&self, placement: &str, from: Date, to: Date) -> Result<Vec<AggregateRow>, ServiceError> {
        let mut reads = JoinSet::new();
        for shard in 0..AGGREGATE_SHARDS {
            let (this, placement) = (self.clone(), placement.to_owned());
            reads.spawn(async move { this.read_shard(&placement, shard, from, to).await });
        }
        let mut rows = Vec::new();
        while let Some(read) = reads.join_next().await {
            let items = read.map_err(|e| codec_error("read aggregates", e))??;
            for item in items {
                rows.push(decode_row(item)?);
            }
        }
        Ok(sum_rows(rows))
    }
}

/// Unix seconds when an aggregate of this day expires.
fn expires_at(day: Date) -> i64 {
    let end_of_day = day.midnight().assume_utc().unix_timestamp() + 86_400;
    end_of_day + AGGREGATE_RETENTION_DAYS * 86_400
}

#[derive(Clone)]
pub struct DynamoEventLedger {
    client: Client,
    table: String,
}

impl DynamoEventLedger {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// `Ok(true)`: claimed now; `Ok(false)`: claimed before.
    async fn claim_one(&self, event_id: String, expires_at: i64) -> Result<bool, ServiceError> {
        let mut item = key(format!("evt#{event_id}"), NO_SORT);
        item.insert("expires_at".to_owned(), n(expires_at));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(pk)")
            .send()
            .await
        {
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
}

#[async_trait]
impl EventLedger for DynamoEventLedger {
    async fn claim(&self, event_ids: &[&str], expires_at: i64) -> Result<Vec<bool>, ServiceError> {
        let mut claimed = vec![false; event_ids.len()];
        let mut failure = None;
        for (chunk_index, chunk) in event_ids.chunks(CLAIMS_IN_FLIGHT).enumerate() {
            let mut writes = JoinSet::new();
            for (offset, id) in chunk.iter().enumerate() {
                let (this, id) = (self.clone(), (*id).to_owned());
                writes.spawn(async move { (offset, this.claim_one(id, expires_at).await) });
            }
            while let Some(done) = writes.join_next().await {
                match done {
                    Ok((offset, Ok(new))) => claimed[chunk_index * CLAIMS_IN_FLIGHT + offset] = new,
                    Ok((_, Err(err))) => failure = Some(err),
                    Err(err) => failure = Some(codec_error("claim events", err)),
                }
            }
            if failure.is_some() {
                break;
            }
        }
        if let Some(err) = failure {
            // Nothing stays claimed by a call that fails: its events were not counted.
            let mine: Vec<&str> = event_ids
                .iter()
                .zip(&claimed)
                .filter(|(_, new)| **new)
                .map(|(id, _)| *id)
                .collect();
            let _ = self.release(&mine).await;
            return Err(err);
        }
        Ok(claimed)
    }

    async fn release(&self, event_ids: &[&str]) -> Result<(), ServiceError> {
        for id in event_ids {
            self.client
                .delete_item()
                .table_name(&self.table)
                .set_key(Some(key(format!("evt#{id}"), NO_SORT)))
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "DeleteItem", &e))?;
        }
        Ok(())
    }

    async fn credit(
        &self,
        impression: &str,
        add: [i64; 2],
        expires_at: i64,
    ) -> Result<[i64; 2], ServiceError> {
        let output = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(format!("ilv#{impression}"), NO_SORT)))
            .update_expression("SET #expires_at = :expires ADD team_a :a, team_b :b")
            .expression_attribute_names("#expires_at", "expires_at")
            .expression_attribute_values(":expires", n(expires_at))
            .expression_attribute_values(":a", n(add[0]))
            .expression_attribute_values(":b", n(add[1]))
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        let attributes = output.attributes.unwrap_or_default();
        let number = |name: &str| -> i64 {
            attributes
                .get(name)
                .and_then(|v| v.as_n().ok())
                .and_then(|v| v.parse().ok())
                .unwrap_or(0)
        };
        Ok([number("team_a"), number("team_b")])
    }
}
