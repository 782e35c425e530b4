//! The quota table: one item per pool (partition key `pool`) holding `used` (units held) and
//! `holders` (holder id → holder). Every change is one conditional `UpdateItem`, so two jobs
//! racing for the last unit cannot both get it, and `used` always equals the holders' sum.

use std::collections::{BTreeMap, HashMap};

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{Acquired, SlotStore};
use recoflow_core::quota::{Pool, PoolState, SlotHolder};
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

    /// Creates the pool's item (empty) unless it exists.
    async fn ensure_pool(&self, pool: &Pool) -> Result<(), ServiceError> {
        let mut item = Self::key(pool);
        item.insert("used".into(), AttributeValue::N("0".into()));
        item.insert("holders".into(), AttributeValue::M(HashMap::new()));
        match self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(#pool)")
            .expression_attribute_names("#pool", "pool")
            .send()
            .await
        {
            Ok(_) => Ok(()),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(service_error("DynamoDB", "PutItem", &err)),
        }
    }

    /// One conditional update of a holder; `Ok(None)` when the condition held, else the
    /// pool's item as it was (`Some(None)`: no item).
    async fn update(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        update: &str,
        condition: &str,
        values: Vec<(&str, AttributeValue)>,
    ) -> Result<Option<Option<PoolState>>, ServiceError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(pool)))
            .expression_attribute_names("#h", holder.id())
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
                    Ok(Some(failed.item.clone().map(decode_pool).transpose()?))
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
}

fn decode_pool(item: HashMap<String, AttributeValue>) -> Result<PoolState, ServiceError> {
    let item: PoolItem = serde_dynamo::from_item(item).map_err(|e| codec_error("decode quota pool", e))?;
    Ok(PoolState {
        used: item.used,
        holders: item.holders.into_values().collect(),
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
        output
            .item
            .map(decode_pool)
            .transpose()
            .map(Option::unwrap_or_default)
    }

    async fn acquire(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
    ) -> Result<Acquired, ServiceError> {
        // Room for the holder means used + units <= capacity, i.e. used <= capacity - units.
        let Some(max_used_before) = capacity.checked_sub(holder.units) else {
            return match self.pool(pool).await? {
                state if state.holder(&holder.id()).is_some() => {
                    self.renew(pool, holder).await.map(|_| Acquired::AlreadyHeld)
                }
                state => Ok(Acquired::Full(state)),
            };
        };
        for _ in 0..2 {
            let refused = self
                .update(
                    pool,
                    holder,
                    "SET holders.#h = :holder, used = used + :units",
                    "attribute_exists(used) AND attribute_not_exists(holders.#h) AND used <= :max",
                    vec![
                        (":holder", encode(holder)?),
                        (":units", number(holder.units)),
                        (":max", number(max_used_before)),
                    ],
                )
                .await?;
            match refused {
                None => return Ok(Acquired::Taken),
                // First use of the pool: create it, then try again.
                Some(None) => self.ensure_pool(pool).await?,
                Some(Some(state)) if state.holder(&holder.id()).is_some() => {
                    self.renew(pool, holder).await?;
                    return Ok(Acquired::AlreadyHeld);
                }
                Some(Some(state)) => return Ok(Acquired::Full(state)),
            }
        }
        Ok(Acquired::Full(self.pool(pool).await?))
    }

    async fn renew(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let refused = self
            .update(
                pool,
                holder,
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
                    holder,
                    "REMOVE holders.#h SET used = used - :units",
                    "holders.#h.units = :units",
                    vec![(":units", number(units))],
                )
                .await?;
            match refused {
                None => return Ok(true),
                Some(Some(state)) => match state.holder(&holder.id()) {
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
                holder,
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
}
