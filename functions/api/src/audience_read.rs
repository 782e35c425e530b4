//! What the audience routes read from the results bucket: a version's manifest, and a page of
//! one audience's CSV (a ranged GET from where the last page ended, a line per user).

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};
use recoflow_core::outputs::audience::{manifest_key, parse_csv_row, AudienceManifest};
use recoflow_core::ports::{ObjectRead, ObjectStore};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

use crate::ports::ApiPorts;
use crate::response::ApiError;

/// A manifest larger than this is not one (a hundred audiences' breakdowns are far smaller).
const MAX_MANIFEST_BYTES: u64 = 8 * 1024 * 1024;
/// A CSV line longer than this is not a row Deliver wrote.
const MAX_ROW_BYTES: usize = 64 * 1024;

/// The manifest of a version of audiences; `None` when there is none.
pub async fn read_manifest<P: ApiPorts>(
    ports: &P,
    result_set: &str,
    version: &str,
) -> Result<Option<AudienceManifest>, ApiError> {
    let bucket = &ports.settings().results_bucket;
    let key = manifest_key(result_set, version);
    let body = match ports
        .objects()
        .read_limited(bucket, &key, None, MAX_MANIFEST_BYTES)
        .await
        .map_err(ApiError::service)?
    {
        ObjectRead::Body(body) => body,
        ObjectRead::Missing => return Ok(None),
        ObjectRead::TooLarge { size } => {
            return Err(ApiError::service(format!(
                "s3://{bucket}/{key} is {size} bytes: not a manifest"
            )))
        }
    };
    serde_json::from_slice(&body)
        .map(Some)
        .map_err(|e| ApiError::service(format!("s3://{bucket}/{key} does not parse: {e}")))
}

/// A row of an audience's CSV.
pub struct Row {
    pub user_id: String,
    pub score: f64,
    pub values: Vec<String>,
}

/// Up to `limit` rows of the CSV at `key` from byte `offset` (0: the start, whose header is
/// skipped), and the offset after the last one when the CSV goes on.
pub async fn read_rows<P: ApiPorts>(
    ports: &P,
    key: &str,
    offset: u64,
    limit: usize,
) -> Result<Option<(Vec<Row>, Option<u64>)>, ApiError> {
    let bucket = &ports.settings().results_bucket;
    let Some(stream) = ports
        .objects()
        .open(bucket, key, offset)
        .await
        .map_err(ApiError::service)?
    else {
        return Ok(None);
    };
    let mut reader = BufReader::new(stream);
    let (mut rows, mut position, mut line) = (Vec::with_capacity(limit), offset, Vec::new());
    loop {
        line.clear();
        let read = (&mut reader)
            .take(MAX_ROW_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(ApiError::service)?;
        if read == 0 {
            return Ok(Some((rows, None)));
        }
        if rows.len() == limit {
            return Ok(Some((rows, Some(position))));
        }
        position += read as u64;
        if line.len() > MAX_ROW_BYTES {
            return Err(ApiError::service(format!(
                "s3://{bucket}/{key} has a line over {MAX_ROW_BYTES} bytes"
            )));
        }
        if let Some((user_id, score, values)) = parse_csv_row(&line) {
            rows.push(Row {
                user_id,
                score,
                values,
            });
        }
    }
}

/// The route's query parameters, each given at most once; any other is refused.
pub fn single_parameters(request: &Request, known: &[&str]) -> Result<HashMap<String, String>, ApiError> {
    let parameters = request.query_string_parameters();
    let mut single = HashMap::new();
    for (name, _) in parameters.iter() {
        if !known.contains(&name) {
            let problem = if known.is_empty() {
                "this route takes no query parameters".to_owned()
            } else {
                format!("unknown query parameter; use {}", known.join(", "))
            };
            return Err(ApiError::invalid_parameter(name, &problem));
        }
        let values = parameters.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(ApiError::invalid_parameter(name, "given more than once"));
        }
        single.insert(name.to_owned(), values[0].to_owned());
    }
    Ok(single)
}
