use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_dynamodb::Client;

use super::service_error;
use crate::errors::ServiceError;
use crate::job::{now_rfc3339, JobId, JobRecord, JobStatus, StatusChange};
use crate::ports::{Created, JobStore, TransitionError, TransitionExtras};

/// Jobs table: one item per job, partition key `job_id`.
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

fn key(job_id: &JobId) -> HashMap<String, AttributeValue> {
    HashMap::from([("job_id".to_owned(), AttributeValue::S(job_id.to_string()))])
}

fn decode(item: HashMap<String, AttributeValue>) -> Result<JobRecord, ServiceError> {
    serde_dynamo::from_item(item).map_err(|err| ServiceError::Failed {
        service: "DynamoDB",
        operation: "decode job record",
        message: err.to_string(),
    })
}

fn encode<T: serde::Serialize>(value: &T) -> Result<AttributeValue, ServiceError> {
    serde_dynamo::to_attribute_value(value).map_err(|err| ServiceError::Failed {
        service: "DynamoDB",
        operation: "encode job record",
        message: err.to_string(),
    })
}

#[async_trait]
impl JobStore for DynamoJobStore {
    async fn get(&self, job_id: &JobId) -> Result<Option<JobRecord>, ServiceError> {
        let output = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "GetItem", &e))?;
        output.item.map(decode).transpose()
    }

    async fn create(&self, record: &JobRecord) -> Result<Created, ServiceError> {
        let item = serde_dynamo::to_item(record).map_err(|err| ServiceError::Failed {
            service: "DynamoDB",
            operation: "encode job record",
            message: err.to_string(),
        })?;
        let result = self
            .client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(job_id)")
            .send()
            .await;
        match result {
            Ok(_) => Ok(Created::New),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => self
                    .get(&record.job_id)
                    .await?
                    .map(|r| Created::AlreadyExists(Box::new(r)))
                    .ok_or_else(|| service_error("DynamoDB", "PutItem", &err)),
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
        let allowed = to.allowed_from();
        let mut request = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id)))
            .expression_attribute_names("#status", "status")
            .expression_attribute_values(":to", AttributeValue::S(to.as_str().to_owned()))
            .expression_attribute_values(":now", AttributeValue::S(now))
            .expression_attribute_values(":change", AttributeValue::L(vec![encode(&change)?]));
        let mut placeholders = Vec::with_capacity(allowed.len());
        for (i, from) in allowed.iter().enumerate() {
            let name = format!(":from{i}");
            request = request.expression_attribute_values(&name, AttributeValue::S(from.as_str().to_owned()));
            placeholders.push(name);
        }
        // No status may be entered from nowhere; an empty list never matches.
        let condition = if placeholders.is_empty() {
            "attribute_exists(job_id) AND attribute_not_exists(job_id)".to_owned()
        } else {
            format!(
                "attribute_exists(job_id) AND #status IN ({})",
                placeholders.join(", ")
            )
        };
        let mut update =
            "SET #status = :to, updated_at = :now, history = list_append(history, :change)".to_owned();
        if let Some(failure) = &extras.failure {
            update.push_str(", failure = :failure");
            request = request.expression_attribute_values(":failure", encode(failure)?);
        }
        let result = request
            .update_expression(update)
            .condition_expression(condition)
            .send()
            .await;
        match result {
            Ok(_) => Ok(()),
            Err(err) => match err.as_service_error() {
                Some(e) if e.is_conditional_check_failed_exception() => match self.get(job_id).await? {
                    None => Err(TransitionError::NotFound(job_id.clone())),
                    Some(record) => Err(TransitionError::Illegal {
                        job_id: job_id.clone(),
                        from: record.status,
                        to,
                    }),
                },
                _ => Err(service_error("DynamoDB", "UpdateItem", &err).into()),
            },
        }
    }

    async fn set_execution_arn(&self, job_id: &JobId, execution_arn: &str) -> Result<(), ServiceError> {
        self.client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key(job_id)))
            .update_expression("SET execution_arn = :arn")
            .condition_expression("attribute_exists(job_id)")
            .expression_attribute_values(":arn", AttributeValue::S(execution_arn.to_owned()))
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "UpdateItem", &e))?;
        Ok(())
    }
}
