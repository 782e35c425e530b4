//! `GET /ui/api/data-files`: the data bucket's CSV and JSON-lines files, for the web page's
//! file picker.

use lambda_http::http::StatusCode;
use recoflow_core::ports::ObjectStore;
use serde_json::json;

use crate::call::Call;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};

/// Files listed at most; more are `truncated`.
const MAX_DATA_FILES: usize = 1_000;
const DATA_FILE_ENDINGS: [&str; 3] = [".csv", ".txt", ".jsonl"];

pub async fn data_files<P: ApiPorts>(ports: &P, _call: &Call<'_>) -> RouteResult {
    let bucket = &ports.settings().data_bucket;
    let keys = ports
        .objects()
        .list(bucket, "", MAX_DATA_FILES)
        .await
        .map_err(ApiError::service)?;
    let files: Vec<serde_json::Value> = keys
        .iter()
        .filter(|k| DATA_FILE_ENDINGS.iter().any(|ending| k.ends_with(ending)))
        .map(|k| json!({"uri": format!("s3://{bucket}/{k}")}))
        .collect();
    let truncated = keys.len() >= MAX_DATA_FILES;
    Ok(json_response(
        StatusCode::OK,
        &json!({"bucket": bucket, "files": files, "truncated": truncated}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fake::*;

    #[tokio::test]
    async fn the_data_buckets_data_files_are_listed() {
        let ports = FakeApiPorts::default();
        for key in ["interactions.csv", "users/u.jsonl", "notes.pdf", "items.txt"] {
            ports.objects.insert("data-bucket", key, "x");
        }
        ports.objects.insert("elsewhere", "other.csv", "x");
        let request = gateway_request("GET", "/ui/api/data-files", "/ui/api/data-files", "", &[]);
        let body = json_body(&data_files(&ports, &signed_call(&request)).await.unwrap());
        assert_eq!(
            body,
            json!({
                "bucket": "data-bucket",
                "files": [
                    {"uri": "s3://data-bucket/interactions.csv"},
                    {"uri": "s3://data-bucket/items.txt"},
                    {"uri": "s3://data-bucket/users/u.jsonl"},
                ],
                "truncated": false,
            })
        );
    }
}
