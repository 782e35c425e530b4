//! The jobs table: one item per job (partition key `job_id`), written with conditional updates.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::operation::update_item::builders::UpdateItemFluentBuilder;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValuesOnConditionCheckFailure};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::{job_listing, now_rfc3339, JobId, JobRecord, JobStatus, ListCursor, StatusChange};
use recoflow_core::ports::{Created, JobPatch, JobStore, TransitionError, TransitionExtras};

use crate::service_error;

/// The jobs table's index of jobs by creation time (see `JobRecord::listing`).
const RECENT_INDEX: &str = "RecentIndex";

pub struct DynamoJobStore {
    client: Client,
    table: String,
}

impl DynamoJobStore {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }
}

/// A job's key in the jobs table.
pub(crate) fn job_key(job_id: &JobId) -> HashMap<String, AttributeValue> {
    HashMap::from([("job_id".to_owned(), AttributeValue::S(job_id.to_string()))])
}

pub(crate) fn codec_error(operation: &'static str, err: impl ToString) -> ServiceError {
    ServiceError::Failed {
        service: "DynamoDB",
        operation,
        message: err.to_string(),
    }
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<JobRecord, ServiceError> {
    serde_dynamo::from_item(item).map_err(|err| codec_error("decode job record", err))
}

pub(crate) fn encode<T: serde::Serialize>(value: &T) -> Result<AttributeValue, ServiceError> {
    serde_dynamo::to_attribute_value(value).map_err(|err| codec_error("encode", err))
}

/// Adds `AND #status IN (:s0, :s1, ...)` for the given statuses; an empty list never matches.
fn status_condition(
    mut request: UpdateItemFluentBuilder,
    allowed: &[JobStatus],
) -> (UpdateItemFluentBuilder, String) {
    if allowed.is_empty() {
        return (
            request,
            "attribute_exists(job_id) AND attribute_not_exists(job_id)".to_owned(),
        );
    }
    let mut placeholders = Vec::with_capacity(allowed.len());
    for (i, status) in allowed.iter().enumerate() {
        let name = format!(":s{i}");
        request = request.expression_attribute_values(&name, AttributeValue::S(status.as_str().to_owned()));
        placeholders.push(name);
    }
    request = request.expression_attribute_names("#status", "status");
    (
        request,
        format!(
            "attribute_exists(job_id) AND #status IN ({})",
            placeholders.join(", ")
        ),
    )
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn get(&self, job_id: &JobId) -> Result<Option<JobRecord>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(job_key(job_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output.item.map(decode).transpose()
    }

    async fn create(&self, record: &JobRecord) -> Result<Created, ServiceError> {
        let item = serde_dynamo::to_item(record).map_err(|err| codec_error("encode job record", err))?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(job_id)")
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld)
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => {
                    let existing = match e {
                        aws_sdk_dynamodb::operation::put_item::PutItemError::ConditionalCheckFailedException(
                            failed,
                        ) => failed.item.clone(),
                        _ => None,
                    };
                    // The table sends the existing item back; an old endpoint may not: read it.
                    let existing = match existing {
                        Some(item) => Some(decode(item)?),
                        None => self.get(&record.job_id).await?,
                    };
                    existing
                        .map(|r| Created::AlreadyExists(Box::new(r)))
                        .ok_or_else(|| service_error("DynamoDB", "PutItem", &err))
                }
                _ => Err(service_error("DynamoDB", "PutItem", &err)),
            },
        }
    }

    async fn transition(
        &self,
        job_id: &JobId,
        to: JobStatus,
        detail: &str,
        extras: TransitionExtras,
    ) -> Result<(), TransitionError> {
        let now = now_rfc3339();
        let change = StatusChange {
            status: to,
            at: now.clone(),
            detail: detail.to_owned(),
        };
        let request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(job_key(job_id)))
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(now))
            .expression_attribute_values(":change", AttributeValue::L(vec![encode(&change)?]))
            .return_values_on_condition_check_failure(ReturnValuesOnConditionCheckFailure::AllOld);
        let (mut request, mut condition) = status_condition(request, to.allowed_from());
        if to == JobStatus::Cancelled {
            // Its version was made current (recommendations.rs, publish): too late to cancel.
            condition.push_str(" AND attribute_not_exists(made_current)");
        }
        let mut update =
            "SET #status = :to, updated_at = :now, history = list_append(history, :change)".to_owned();
        if let Some(failure) = &extras.failure {
            update.push_str(", failure = :failure");
            request = request.expression_attribute_values(":failure", encode(failure)?);
        }
        if let Some(cancellation) = &extras.cancellation {
            update.push_str(", cancellation = :cancellation");
            request = request.expression_attribute_values(":cancellation", encode(cancellation)?);
        }
        if let Some(skipped) = &extras.skipped {
            update.push_str(", skipped = :skipped");
            request = request.expression_attribute_values(":skipped", encode(skipped)?);
        }
        let result = request
            .expression_attribute_names("#status", "status")
            .update_expression(update)
            .condition_expression(condition)
            .send()
            .await;
        let err = match result {
            Ok(_) => return Ok(()),
            Err(err) => err,
        };
        let failed = match err.as_service_error() {
            Some(
                aws_sdk_dynamodb::operation::update_item::UpdateItemError::ConditionalCheckFailedException(
                    failed,
                ),
            ) => failed,
            _ => return Err(service_error("DynamoDB", "UpdateItem", &err).into()),
        };
        let current = match failed.item.clone() {
            Some(item) => Some(decode(item)?),
            None => self.get(job_id).await?,
        };
        match current {
            None => Err(TransitionError::NotFound(job_id.clone())),
            Some(record) => Err(TransitionError::Illegal {
                job_id: job_id.clone(),
                from: record.status,
                to,
            }),
        }
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&ListCursor>,
    ) -> Result<(Vec<JobRecord>, Option<ListCursor>), ServiceError> {
        let start = after.map(|cursor| {
            HashMap::from([
                ("listing".to_owned(), AttributeValue::S(job_listing())),
                (
                    "created_at".to_owned(),
                    AttributeValue::S(cursor.created_at.clone()),
                ),
                ("job_id".to_owned(), AttributeValue::S(cursor.job_id.to_string())),
            ])
        });
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .index_name(RECENT_INDEX)
            .key_condition_expression("listing = :listing")
            .expression_attribute_values(":listing", AttributeValue::S(job_listing()))
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
            Some(ListCursor {
                created_at: text("created_at")?,
                job_id: JobId::parse(&text("job_id")?)?,
            })
        });
        Ok((records, next))
    }

    async fn patch(
        &self,
        job_id: &JobId,
        patch: JobPatch,
        while_in: Option<&[JobStatus]>,
    ) -> Result<bool, ServiceError> {
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(job_key(job_id)));
        let update = match &patch {
            JobPatch::ExecutionArn(arn) => {
                request = request.expression_attribute_values(":v", AttributeValue::S(arn.clone()));
                "SET execution_arn = :v".to_owned()
            }
            JobPatch::Prepared(prepared) => {
                request = request.expression_attribute_values(":v", encode(prepared)?);
                "SET prepared = :v".to_owned()
            }
            JobPatch::Counts(counts) | JobPatch::AddCounts(counts) => {
                let adding = matches!(patch, JobPatch::AddCounts(_));
                let mut sets = Vec::with_capacity(counts.len());
                for (i, (name, value)) in counts.iter().enumerate() {
                    request = request
                        .expression_attribute_names(format!("#c{i}"), name)
                        .expression_attribute_values(format!(":c{i}"), AttributeValue::N(value.to_string()));
                    sets.push(match adding {
                        // One expression, so workers adding at once never lose each other's.
                        true => format!("counts.#c{i} = if_not_exists(counts.#c{i}, :zero) + :c{i}"),
                        false => format!("counts.#c{i} = :c{i}"),
                    });
                }
                if sets.is_empty() {
                    return Ok(true);
                }
                if adding {
                    request = request.expression_attribute_values(":zero", AttributeValue::N("0".into()));
                }
                format!("SET {}", sets.join(", "))
            }
            JobPatch::Resource(resource) => {
                request = request
                    .expression_attribute_names("#r", &resource.name)
                    .expression_attribute_values(":v", encode(resource)?);
                "SET resources.#r = :v".to_owned()
            }
            JobPatch::Delivery(delivery) => {
                request = request.expression_attribute_values(":v", encode(delivery)?);
                "SET delivery = :v".to_owned()
            }
            JobPatch::Notification(notification) => {
                request = request.expression_attribute_values(":v", encode(notification)?);
                "SET notification = :v".to_owned()
            }
            JobPatch::Gate(gate) => {
                request = request.expression_attribute_values(":v", encode(gate)?);
                "SET gate = :v".to_owned()
            }
            JobPatch::DataVersions(versions) => {
                request = request.expression_attribute_values(":v", encode(versions)?);
                "SET data_versions = :v".to_owned()
            }
            JobPatch::RetriedBy(job_id) => {
                request = request.expression_attribute_values(":v", AttributeValue::S(job_id.to_string()));
                "SET retried_by = :v".to_owned()
            }
        };
        let condition = match while_in {
            None => "attribute_exists(job_id)".to_owned(),
            Some(allowed) => {
                let (with_values, condition) = status_condition(request, allowed);
                request = with_values;
                condition
            }
        };
        match request
            .update_expression(update)
            .condition_expression(condition)
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
            Err(err) => Err(service_error("DynamoDB", "UpdateItem", &err)),
        }
    }
}
