//! Fold windows of failure notifications (table with partition key `pk`, items `fold#<signature>`):
//! how many messages of one cause were sent in the current window, and which failures wait for
//! the window's summary. Every change is one conditional UpdateItem.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::UpdateItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::JobId;
use recoflow_core::ports::{FoldOutcome, FoldStore, FoldedFailures};

use crate::{service_error, unix_now};

pub struct DynamoFolds {
    client: Client,
    table: String,
}

impl DynamoFolds {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    fn key(signature: &str) -> HashMap<String, AttributeValue> {
        HashMap::from([("pk".to_owned(), AttributeValue::S(format!("fold#{signature}")))])
    }
}

fn number(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn refused<T>(
    result: &Result<
        T,
        aws_sdk_dynamodb::error::SdkError<UpdateItemError, aws_smithy_runtime_api::http::Response>,
    >,
) -> bool {
    matches!(result, Err(err) if err.as_service_error().is_some_and(|e| e.is_conditional_check_failed_exception()))
}

fn text(item: &HashMap<String, AttributeValue>, name: &str) -> String {
    item.get(name)
        .and_then(|v| v.as_s().ok())
        .cloned()
        .unwrap_or_default()
}

#[async_trait]
impl FoldStore for DynamoFolds {
    async fn count_failure(
        &self,
        signature: &str,
        job_id: &JobId,
        error: &str,
        cause: &str,
        window_seconds: u32,
        max_messages: u32,
    ) -> Result<FoldOutcome, ServiceError> {
        let now = unix_now();
        // A new window: none yet, or the last one has closed. Failures still waiting for the
        // closed window's summary stay in `pending`.
        let opened = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(signature)))
            .update_expression("SET window_start = :now, sent = :one, #error = :error, cause = :cause, pending = if_not_exists(pending, :none)")
            .condition_expression("attribute_not_exists(pk) OR window_start <= :closed")
            .expression_attribute_names("#error", "error")
            .expression_attribute_values(":now", number(now))
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":error", AttributeValue::S(error.to_owned()))
            .expression_attribute_values(":cause", AttributeValue::S(cause.chars().take(2_000).collect()))
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":closed", number(now - i64::from(window_seconds)))
            .send()
            .await;
        if !refused(&opened) {
            opened.map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
            return Ok(FoldOutcome::Send);
        }
        // The window is open: a few messages of this cause are sent on their own.
        let counted = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(signature)))
            .update_expression("SET sent = sent + :one")
            .condition_expression("sent < :max")
            .expression_attribute_values(":one", number(1))
            .expression_attribute_values(":max", number(max_messages))
            .send()
            .await;
        if !refused(&counted) {
            counted.map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
            return Ok(FoldOutcome::Send);
        }
        // The rest wait for the summary.
        let held = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(signature)))
            .update_expression("SET pending = list_append(if_not_exists(pending, :none), :me)")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(
                ":me",
                AttributeValue::L(vec![AttributeValue::S(job_id.to_string())]),
            )
            .return_values(ReturnValue::AllNew)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        let window_start = held
            .attributes
            .as_ref()
            .and_then(|a| a.get("window_start"))
            .and_then(|v| v.as_n().ok())
            .and_then(|n| n.parse::<i64>().ok())
            .unwrap_or(now);
        let closes_in =
            (window_start + i64::from(window_seconds) - now).clamp(1, i64::from(window_seconds.max(1)));
        Ok(FoldOutcome::Folded {
            closes_in: closes_in as u32,
        })
    }

    async fn take_folded(&self, signature: &str) -> Result<Option<FoldedFailures>, ServiceError> {
        let taken = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(Self::key(signature)))
            .update_expression("SET pending = :none")
            .condition_expression("size(pending) > :zero")
            .expression_attribute_values(":none", AttributeValue::L(Vec::new()))
            .expression_attribute_values(":zero", number(0))
            .return_values(ReturnValue::AllOld)
            .send()
            .await;
        if refused(&taken) {
            return Ok(None);
        }
        let old = taken
            .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?
            .attributes
            .unwrap_or_default();
        let job_ids = old
            .get("pending")
            .and_then(|v| v.as_l().ok())
            .map(|ids| ids.iter().filter_map(|id| id.as_s().ok().cloned()).collect())
            .unwrap_or_default();
        Ok(Some(FoldedFailures {
            error: text(&old, "error"),
            cause: text(&old, "cause"),
            job_ids,
        }))
    }
}
