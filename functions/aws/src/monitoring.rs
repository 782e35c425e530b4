//! Monitoring's log in the events table, beside the aggregates it reads: per placement
//! (`pk = mon#<placement>`) the open alert of each KPI (`sk = alert#<kpi>`, written only if
//! absent: one open alert per KPI), closed alerts (`closed#<day opened>#<kpi>`) and the notes
//! of messages sent once (`note#<note>`), each with its TTL.

use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};
use aws_sdk_dynamodb::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::parse_day;
use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::monitoring::{Kpi, KpiAlert};

use crate::dynamodb::codec_error;
use crate::service_error;

type Item = HashMap<String, AttributeValue>;

/// Closed alerts are kept this long after the day they opened.
const CLOSED_ALERT_DAYS: i64 = 400;
/// Open alerts read at most (one per KPI: a handful).
const OPEN_ALERTS_LIMIT: i32 = 50;

fn partition(placement: &str) -> String {
    format!("mon#{placement}")
}

fn s(text: impl Into<String>) -> AttributeValue {
    AttributeValue::S(text.into())
}

#[derive(Clone)]
pub struct DynamoMonitoringLog {
    client: Client,
    table: String,
}

impl DynamoMonitoringLog {
    pub fn new(client: Client, table: impl Into<String>) -> Self {
        Self {
            client,
            table: table.into(),
        }
    }

    /// Puts `item` under its key only if none is there: `true` when this call wrote it.
    async fn put_if_absent(&self, item: Item) -> Result<bool, ServiceError> {
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

fn alert_item(alert: &KpiAlert, sk: String) -> Result<Item, ServiceError> {
    let mut item: Item = serde_dynamo::to_item(alert).map_err(|e| codec_error("encode alert", e))?;
    item.insert("pk".to_owned(), s(partition(&alert.placement)));
    item.insert("sk".to_owned(), s(sk));
    Ok(item)
}

fn decode_alert(item: Item) -> Result<KpiAlert, ServiceError> {
    serde_dynamo::from_item(item).map_err(|e| codec_error("decode alert", e))
}

#[async_trait]
impl MonitoringLog for DynamoMonitoringLog {
    async fn open_alert(&self, alert: &KpiAlert) -> Result<bool, ServiceError> {
        self.put_if_absent(alert_item(alert, format!("alert#{}", alert.kpi))?)
            .await
    }

    async fn open_alerts(&self, placement: &str) -> Result<Vec<KpiAlert>, ServiceError> {
        let output = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk AND begins_with(sk, :open)")
            .expression_attribute_values(":pk", s(partition(placement)))
            .expression_attribute_values(":open", s("alert#"))
            .limit(OPEN_ALERTS_LIMIT)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "Query", &e))?;
        output
            .items
            .unwrap_or_default()
            .into_iter()
            .map(decode_alert)
            .collect()
    }

    async fn close_alert(&self, placement: &str, kpi: Kpi, closed_on: &str) -> Result<(), ServiceError> {
        let removed = self
            .client
            .delete_item()
            .table_name(&self.table)
            .key("pk", s(partition(placement)))
            .key("sk", s(format!("alert#{kpi}")))
            .return_values(ReturnValue::AllOld)
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "DeleteItem", &e))?;
        let Some(old) = removed.attributes else {
            // Another check closed it first.
            return Ok(());
        };
        let mut alert = decode_alert(old)?;
        alert.closed_on = Some(closed_on.to_owned());
        let opened = parse_day(&alert.day).map_or(0, |d| d.midnight().assume_utc().unix_timestamp());
        let mut item = alert_item(&alert, format!("closed#{}#{kpi}", alert.day))?;
        item.insert(
            "expires_at".to_owned(),
            AttributeValue::N((opened + CLOSED_ALERT_DAYS * 86_400).to_string()),
        );
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| service_error("DynamoDB", "PutItem", &e))?;
        Ok(())
    }

    async fn note_once(&self, placement: &str, note: &str, expires_at: i64) -> Result<bool, ServiceError> {
        let item = HashMap::from([
            ("pk".to_owned(), s(partition(placement))),
            ("sk".to_owned(), s(format!("note#{note}"))),
            ("expires_at".to_owned(), AttributeValue::N(expires_at.to_string())),
        ]);
        self.put_if_absent(item).await
    }
}
