//! The quota table: one item per pool (partition key `pool`) holding `used` (units held),
//! `holders` (holder id → holder), the pool's queue `waiting` (holder id → waiter) and its
//! `queue_revision`. Every change is one conditional `UpdateItem`, so two jobs racing for the
//! last unit cannot both get it, `used` always equals the holders' sum, and a take in turn
//! sees the queue as it was when its caller looked.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{Acquired, SlotStore, TakenInTurn};
use recoflow_core::quota::{Pool, PoolState, SlotHolder};
use recoflow_core::quota_queue::Waiter;
use serde::Deserialize;

use crate::dynamodb::{codec_error, encode};
use crate::service_error;

pub struct DynamoSlotStore {
    client: Client,
    table: String,
}

impl DynamoSlotStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(pool: &Pool) -> HashMap<String, AttributeValue> {
        HashMap::from([("pool".to_owned(), AttributeValue::S(pool.key()))])
    }

    /// Creates the pool's item (empty) unless it exists, and gives an item written before pools
    /// had queues an empty queue, so holder and queue paths can be written into it. One
    /// unconditional update: what exists is left as it is.
    async fn ensure_item(&self, pool: &Pool) -> Result<(), ServiceError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pool)))
            .update_expression(
                "SET used = if_not_exists(used, :zero), holders = if_not_exists(holders, :empty), \
                 waiting = if_not_exists(waiting, :empty), queue_revision = if_not_exists(queue_revision, :zero)",
            )
            .expression_attribute_values(":empty", AttributeValue::M(HashMap::new()))
            .expression_attribute_values(":zero", number(0))
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        Ok(())
    }

    /// Adds the holder if there is room. With a queue revision, only while the queue is still
    /// at it, and the holder's own place in the queue goes in the same write.
    async fn take(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
        queue_revision: Option<u64>,
    ) -> Result<TakenInTurn, ServiceError> {
        let id = holder.id();
        // Room for the holder means used + units <= capacity, i.e. used <= capacity - units.
        let Some(max_used_before) = capacity.checked_sub(holder.units) else {
            let state = self.pool(pool).await?;
            if state.holder(&id).is_none() {
                return Ok(TakenInTurn::Decided(Acquired::Full(state)));
            }
            self.renew(pool, holder).await?;
            return Ok(TakenInTurn::Decided(Acquired::AlreadyHeld));
        };
        let mut values = vec![
            (":holder", encode(holder)?),
            (":units", number(holder.units)),
            (":max", number(max_used_before)),
        ];
        let (update, condition) = match queue_revision {
            None => (
                "SET holders.#h = :holder, used = used + :units",
                "attribute_exists(used) AND attribute_not_exists(holders.#h) AND used <= :max",
            ),
            Some(revision) => {
                values.push((":one", number(1)));
                values.push((":revision", number(revision)));
                (
                    "SET holders.#h = :holder, used = used + :units, queue_revision = queue_revision + :one REMOVE waiting.#h",
                    "attribute_exists(waiting) AND attribute_not_exists(holders.#h) AND used <= :max AND queue_revision = :revision",
                )
            }
        };
        for _ in 0..2 {
            match self.update(pool, &id, update, condition, values.clone()).await? {
                None => return Ok(TakenInTurn::Decided(Acquired::Taken)),
                // First use of the pool: create it, then try again.
                Some(None) => self.ensure_item(pool).await?,
                Some(Some(stored)) if stored.state.holder(&id).is_some() => {
                    self.renew(pool, holder).await?;
                    return Ok(TakenInTurn::Decided(Acquired::AlreadyHeld));
                }
                // An item from before pools had queues (read as revision 0): give it one.
                Some(Some(stored)) if queue_revision.is_some() && !stored.has_queue => {
                    self.ensure_item(pool).await?
                }
                Some(Some(stored)) if queue_revision.is_some_and(|r| r != stored.state.queue_revision) => {
                    return Ok(TakenInTurn::QueueMoved)
                }
                Some(Some(stored)) => return Ok(TakenInTurn::Decided(Acquired::Full(stored.state))),
            }
        }
        match queue_revision {
            Some(_) => Ok(TakenInTurn::QueueMoved),
            None => Ok(TakenInTurn::Decided(Acquired::Full(self.pool(pool).await?))),
        }
    }

    /// One conditional update of one holder's (or waiter's) entry, `#h` in the expressions;
    /// `Ok(None)` when the condition held, else the pool's item as it was (`Some(None)`: no
    /// item).
    async fn update(
        &self,
        pool: &Pool,
        holder_id: &str,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Option<Stored>>, ServiceError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pool)))
            .expression_attribute_names("#h", holder_id)
            .update_expression(update)
            .condition_expression(condition)
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        for (name, value) in values {
            request = request.expression_attribute_values(name, value);
        }
        match request.send().await {
            Ok(_) => Ok(None),
            Err(err) => match err.as_service_error() {
                Some(UpdateItemError::ConditionalCheckFailedException(failed)) => {
                    Ok(Some(failed.item.clone().map(decode_item).transpose()?))
                }
                _ => Err(service_error("DynamoDB", "UpdateItem", &err)),
            },
        }
    }
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

#[derive(Deserialize)]
struct PoolItem {
    #[serde(default)]
    used: u32,
    #[serde(default)]
    holders: BTreeMap<String, SlotHolder>,
    /// Absent from items written before pools had queues.
    #[serde(default)]
    waiting: Option<BTreeMap<String, Waiter>>,
    #[serde(default)]
    queue_revision: u64,
}

/// A pool's item as stored.
struct Stored {
    state: PoolState,
    /// Whether the item has the queue's attributes (items written before pools had queues
    /// lack them).
    has_queue: bool,
}

fn decode_item(item: HashMap<String, AttributeValue>) -> Result<Stored, ServiceError> {
    let item: PoolItem = serde_dynamo::from_item(item).map_err(|e| codec_error("decode quota pool", e))?;
    let has_queue = item.waiting.is_some();
    let state = PoolState {
        used: item.used,
        holders: item.holders.into_values().collect(),
        waiting: item.waiting.unwrap_or_default().into_values().collect(),
        queue_revision: item.queue_revision,
    };
    Ok(Stored {
        state: state.with_queue_in_order(),
        has_queue,
    })
}

#[async_trait]
impl SlotStore for DynamoSlotStore {
    async fn pool(&self, pool: &Pool) -> Result<PoolState, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pool)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        Ok(output
            .item
            .map(decode_item)
            .transpose()?
            .map(|stored| stored.state)
            .unwrap_or_default())
    }

    async fn acquire(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
    ) -> Result<Acquired, ServiceError> {
        match self.take(pool, holder, capacity, None).await? {
            TakenInTurn::Decided(acquired) => Ok(acquired),
            // Only a take in turn looks at the queue.
            TakenInTurn::QueueMoved => Ok(Acquired::Full(self.pool(pool).await?)),
        }
    }

    async fn renew(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let refused = self
            .update(
                pool,
                &holder.id(),
                "SET holders.#h.expires_at = :expires",
                "attribute_exists(holders.#h)",
                vec![(":expires", number(holder.expires_at))],
            )
            .await?;
        Ok(refused.is_none())
    }

    async fn release(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        // The units given back must be the ones the holder took, as stored in the pool: the
        // caller's are tried first (one write), the stored ones if they differ.
        let mut units = holder.units;
        for _ in 0..2 {
            let refused = self
                .update(
                    pool,
                    &holder.id(),
                    "REMOVE holders.#h SET used = used - :units",
                    "holders.#h.units = :units",
                    vec![(":units", number(units))],
                )
                .await?;
            match refused {
                None => return Ok(true),
                Some(Some(stored)) => match stored.state.holder(&holder.id()) {
                    Some(held) if held.units != units => units = held.units,
                    _ => return Ok(false),
                },
                Some(None) => return Ok(false),
            }
        }
        Ok(false)
    }

    async fn reclaim(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let refused = self
            .update(
                pool,
                &holder.id(),
                "REMOVE holders.#h SET used = used - :units",
                "holders.#h.expires_at = :expires AND holders.#h.units = :units",
                vec![
                    (":expires", number(holder.expires_at)),
                    (":units", number(holder.units)),
                ],
            )
            .await?;
        Ok(refused.is_none())
    }

    async fn take_in_turn(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
        queue_revision: u64,
    ) -> Result<TakenInTurn, ServiceError> {
        self.take(pool, holder, capacity, Some(queue_revision)).await
    }

    async fn enqueue(&self, pool: &Pool, waiter: &Waiter) -> Result<(), ServiceError> {
        let id = waiter.holder.id();
        let values = vec![(":waiter", encode(waiter)?), (":one", number(1))];
        for _ in 0..2 {
            let refused = self
                .update(
                    pool,
                    &id,
                    "SET waiting.#h = :waiter, queue_revision = queue_revision + :one",
                    "attribute_exists(waiting)",
                    values.clone(),
                )
                .await?;
            match refused {
                None => return Ok(()),
                // No item, or one from before pools had queues.
                Some(_) => self.ensure_item(pool).await?,
            }
        }
        Err(ServiceError::Failed {
            service: "DynamoDB",
            operation: "UpdateItem",
            message: format!("pool {pool} still has no queue after it was given one"),
        })
    }

    async fn leave(&self, pool: &Pool, holder_id: &str) -> Result<bool, ServiceError> {
        let refused = self
            .update(
                pool,
                holder_id,
                "REMOVE waiting.#h SET queue_revision = queue_revision + :one",
                "attribute_exists(waiting.#h)",
                vec![(":one", number(1))],
            )
            .await?;
        Ok(refused.is_none())
    }
}
