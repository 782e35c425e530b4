//! Versions beside the pointer in the recommendations table: version records
//! (`v#<result set>#<version>`, listed newest first through the sparse `VersionIndex`),
//! result-set entries (`rse#<result set>`, listed by name through the sparse `ResultSetIndex`),
//! the pointer switch of promote and rollback (one conditional put), and the once-only note
//! of a staleness alert (one conditional update). Same table and client as the lists.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::put_item::PutItemError;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use recoflow_core::delivery::Pointer;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::{JobId, JobStatus};
use recoflow_core::ports::{Page, PointerSwitch, VersionStore};
use recoflow_core::versions::{keys, ResultSetEntry, VersionRecord, RESULT_SET_LISTING};
use serde::de::DeserializeOwned;

use crate::dynamodb::codec_error;
use crate::recommendations::DynamoRecommendations;
use crate::service_error;

/// A result set's versions, newest first (partition `version_of`, sort `version`).
const VERSION_INDEX: &str = "VersionIndex";
/// Result-set entries by name (partition `listing`, sort `result_set`).
const RESULT_SET_INDEX: &str = "ResultSetIndex";

type Item = HashMap<String, AttributeValue>;

fn s(text: &str) -> AttributeValue {
    AttributeValue::S(text.to_owned())
}

fn key(pk: String) -> Item {
    HashMap::from([("pk".to_owned(), AttributeValue::S(pk))])
}

/// One query of a sparse index: the partition's items in sort order (`forward`), at most
/// `limit` after the item whose sort key is `after` (with that item's table key `pk`).
struct IndexQuery<'a> {
    index: &'static str,
    /// The index's partition key and the value asked for.
    partition: (&'static str, &'a str),
    /// The index's sort key, which the next page's cursor is made of.
    sort_key: &'static str,
    /// The table key and sort key of the item the page starts after.
    after: Option<(String, &'a str)>,
    forward: bool,
    limit: u32,
}

impl DynamoRecommendations {
    async fn put<T: serde::Serialize>(&self, value: &T, what: &'static str) -> Result<(), ServiceError> {
        let item = serde_dynamo::to_item(value).map_err(|e| codec_error(what, e))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "PutItem", &e))?;
        Ok(())
    }

    async fn get<T: DeserializeOwned>(
        &self,
        pk: String,
        what: &'static str,
    ) -> Result<Option<T>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(pk)))
            // Promote and rollback decide on what they read here.
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output
            .item
            .map(|item| serde_dynamo::from_item(item).map_err(|e| codec_error(what, e)))
            .transpose()
    }

    /// Pages through the index until `limit + 1` items (or the end) are read, so that a next
    /// cursor is given only when another item follows, as the fake does: DynamoDB may stop a
    /// page short (1 MB) or hand out a key after the very last item.
    async fn query_index<T: DeserializeOwned>(
        &self,
        query: IndexQuery<'_>,
        what: &'static str,
    ) -> Result<Page<T>, ServiceError> {
        let wanted = query.limit as usize + 1;
        let mut items: Vec<Item> = Vec::new();
        let (name, value) = query.partition;
        // A GSI's start key is the table's key and the index's.
        let mut start = query.after.map(|(pk, sort)| {
            HashMap::from([
                ("pk".to_owned(), s(&pk)),
                (name.to_owned(), s(value)),
                (query.sort_key.to_owned(), s(sort)),
            ])
        });
        loop {
            let output = self
                .client
                .query()
                .table_name(&self.table)
                .index_name(query.index)
                .key_condition_expression("#p = :p")
                .expression_attribute_names("#p", name)
                .expression_attribute_values(":p", s(value))
                .scan_index_forward(query.forward)
                .limit((wanted - items.len()) as i32)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| service_error("DynamoDB", "Query", &e))?;
            items.extend(output.items.unwrap_or_default());
            start = output.last_evaluated_key;
            if items.len() >= wanted || start.is_none() {
                break;
            }
        }
        let more = items.len() > query.limit as usize;
        items.truncate(query.limit as usize);
        let next = if more {
            items
                .last()
                .and_then(|item| item.get(query.sort_key))
                .and_then(|v| v.as_s().ok())
                .cloned()
        } else {
            None
        };
        let decoded = items
            .into_iter()
            .map(|item| serde_dynamo::from_item(item).map_err(|e| codec_error(what, e)))
            .collect::<Result<Vec<T>, _>>()?;
        Ok((decoded, next))
    }
}

#[async_trait]
impl VersionStore for DynamoRecommendations {
    async fn put_version(&self, record: &VersionRecord) -> Result<(), ServiceError> {
        self.put(record, "encode version record").await
    }

    async fn version(&self, result_set: &str, version: &str) -> Result<Option<VersionRecord>, ServiceError> {
        self.get(keys::version(result_set, version), "decode version record")
            .await
    }

    async fn versions(
        &self,
        result_set: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<VersionRecord>, ServiceError> {
        let query = IndexQuery {
            index: VERSION_INDEX,
            partition: ("version_of", result_set),
            sort_key: "version",
            after: after.map(|version| (keys::version(result_set, version), version)),
            forward: false,
            limit,
        };
        self.query_index(query, "decode version record").await
    }

    async fn put_entry(&self, entry: &ResultSetEntry) -> Result<(), ServiceError> {
        self.put(entry, "encode result-set entry").await
    }

    async fn entry(&self, result_set: &str) -> Result<Option<ResultSetEntry>, ServiceError> {
        self.get(keys::result_set_entry(result_set), "decode result-set entry")
            .await
    }

    async fn entries(&self, limit: u32, after: Option<&str>) -> Result<Page<ResultSetEntry>, ServiceError> {
        let query = IndexQuery {
            index: RESULT_SET_INDEX,
            partition: ("listing", RESULT_SET_LISTING),
            sort_key: "result_set",
            after: after.map(|result_set| (keys::result_set_entry(result_set), result_set)),
            forward: true,
            limit,
        };
        self.query_index(query, "decode result-set entry").await
    }

    async fn switch_pointer(
        &self,
        pointer: &Pointer,
        expected: Option<&str>,
    ) -> Result<PointerSwitch, ServiceError> {
        let item = serde_dynamo::to_item(pointer).map_err(|e| codec_error("encode pointer", e))?;
        let request = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let request = match expected {
            None => request.condition_expression("attribute_not_exists(pk)"),
            Some(version) => request
                .condition_expression("version = :expected")
                .expression_attribute_values(":expected", s(version)),
        };
        match request.send().await {
            Ok(_) => Ok(PointerSwitch::Switched),
            Err(err) => match err.as_service_error() {
                Some(PutItemError::ConditionalCheckFailedException(failed)) => {
                    // The pointer as it is now (sent back with the refusal); none if absent.
                    let current = failed
                        .item
                        .as_ref()
                        .and_then(|item| item.get("version"))
                        .and_then(|v| v.as_s().ok())
                        .cloned();
                    Ok(PointerSwitch::Moved { current })
                }
                _ => Err(service_error("DynamoDB", "PutItem", &err)),
            },
        }
    }

    async fn note_stale_alert(&self, result_set: &str, version: &str) -> Result<bool, ServiceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::result_set_entry(result_set))))
            .update_expression("SET stale_alert_for = :v")
            // No entry, or the alert was noted for this version already: nothing to send.
            .condition_expression(
                "attribute_exists(pk) AND (attribute_not_exists(stale_alert_for) OR stale_alert_for <> :v)",
            )
            .expression_attribute_values(":v", s(version))
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
            Err(err) => Err(service_error("DynamoDB", "UpdateItem", &err)),
        }
    }

    async fn note_last_job(
        &self,
        result_set: &str,
        job_id: &JobId,
        status: JobStatus,
    ) -> Result<(), ServiceError> {
        let result = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(keys::result_set_entry(result_set))))
            .update_expression("SET last_job.#status = :status")
            .condition_expression("last_job.job_id = :job")
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":status", s(status.as_str()))
            .expression_attribute_values(":job", s(job_id.as_str()))
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            // No entry, or it names a later job now: that job's status stands.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_conditional_check_failed_exception()) =>
            {
                Ok(())
            }
            Err(err) => Err(service_error("DynamoDB", "UpdateItem", &err)),
        }
    }
}
