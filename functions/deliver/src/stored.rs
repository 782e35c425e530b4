//! The delivery's own JSON objects in the results bucket (a worker's progress, a share's
//! counts, an audience's metrics): written whole, read back within a size limit, and one that
//! cannot be used refused, naming what it is and where.

use recoflow_core::ports::{ObjectRead, ObjectStore};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// A stored object larger than this is refused rather than read (the largest, a share's
/// counts or a file's metrics, hold a few hundred counters a segment or one an item).
const MAX_STORED_BYTES: u64 = 256 * 1024 * 1024;

/// `what` at `key` in the results bucket; `None` when there is none.
pub(crate) async fn read_json<P: DeliverPorts, T: DeserializeOwned>(
    ports: &P,
    key: &str,
    what: &str,
) -> Result<Option<T>, DeliverError> {
    let bucket = &ports.settings().results_bucket;
    let unusable =
        |reason: String| DeliverError::ScoresInvalid(format!("{what} (s3://{bucket}/{key}) {reason}"));
    match ports
        .objects()
        .read_limited(bucket, key, None, MAX_STORED_BYTES)
        .await?
    {
        ObjectRead::Body(body) => serde_json::from_slice(&body)
            .map(Some)
            .map_err(|e| unusable(format!("does not parse: {e}"))),
        ObjectRead::Missing => Ok(None),
        ObjectRead::TooLarge { size } => Err(unusable(format!(
            "is {size} bytes; at most {MAX_STORED_BYTES} are read"
        ))),
    }
}

/// Writes `what` at `key` in the results bucket.
pub(crate) async fn write_json<P: DeliverPorts, T: Serialize>(
    ports: &P,
    key: &str,
    what: &str,
    value: &T,
) -> Result<(), DeliverError> {
    let body = serde_json::to_vec(value)
        .map_err(|e| DeliverError::ScoresInvalid(format!("{what} ({key}) does not encode: {e}")))?;
    let bucket = &ports.settings().results_bucket;
    ports.objects().put(bucket, key, body, "application/json").await?;
    Ok(())
}
