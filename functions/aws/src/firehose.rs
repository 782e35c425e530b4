//! Accepted events to S3 through a Kinesis Data Firehose delivery stream (direct put): one
//! PutRecordBatch per request (at most 500 records, 4 MiB: the events API's own limits keep
//! within them), the records Firehose refused put again with backoff.

use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_firehose::primitives::Blob;
use aws_sdk_firehose::types::Record;
use aws_sdk_firehose::Client;
use recoflow_core::backoff::full_jitter;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::RawEventSink;

use crate::service_error;

/// Tries of a batch's refused records, counting the first put.
const ATTEMPTS: u32 = 5;
const BASE_WAIT_MS: u64 = 50;
const MAX_WAIT_MS: u64 = 2_000;

pub struct FirehoseRawEvents {
    client: Client,
    stream: String,
}

impl FirehoseRawEvents {
    pub fn new(client: Client, stream: impl Into<String>) -> Self {
        Self {
            client,
            stream: stream.into(),
        }
    }
}

#[async_trait]
impl RawEventSink for FirehoseRawEvents {
    async fn put(&self, records: Vec<Vec<u8>>) -> Result<(), ServiceError> {
        let mut pending = records;
        for attempt in 1..=ATTEMPTS {
            if pending.is_empty() {
                return Ok(());
            }
            if attempt > 1 {
                tokio::time::sleep(Duration::from_millis(full_jitter(
                    BASE_WAIT_MS,
                    attempt - 1,
                    MAX_WAIT_MS,
                )))
                .await;
            }
            let batch = pending
                .iter()
                .map(|bytes| Record::builder().data(Blob::new(bytes.clone())).build())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| ServiceError::Failed {
                    service: "Firehose",
                    operation: "PutRecordBatch",
                    message: e.to_string(),
                })?;
            let output = self
                .client
                .put_record_batch()
                .delivery_stream_name(&self.stream)
                .set_records(Some(batch))
                .send()
                .await
                .map_err(|e| service_error("Firehose", "PutRecordBatch", &e))?;
            if output.failed_put_count() == 0 {
                return Ok(());
            }
            // Entries answer the records in order; those with an error code were not taken.
            pending = pending
                .into_iter()
                .zip(output.request_responses())
                .filter(|(_, entry)| entry.error_code().is_some())
                .map(|(record, _)| record)
                .collect();
        }
        Err(ServiceError::Throttled {
            service: "Firehose",
            operation: "PutRecordBatch",
            message: format!("{} record(s) still refused after {ATTEMPTS} tries", pending.len()),
        })
    }
}
