use async_trait::async_trait;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use super::service_error;
use crate::errors::ServiceError;
use crate::ports::{ObjectHead, ObjectRead, ObjectStore};

pub struct S3Objects {
    client: Client,
}

impl S3Objects {
    pub fn new(client: Client) -> Self {
        Self { client }
    }

    /// S3 client from the shared config. Path-style addressing when an endpoint is overridden
    /// (the local stack), since `bucket.127.0.0.1` does not resolve.
    pub fn client_for(sdk: &aws_config::SdkConfig) -> Client {
        let config = aws_sdk_s3::config::Builder::from(sdk)
            .force_path_style(sdk.endpoint_url().is_some())
            .build();
        Client::from_conf(config)
    }
}

/// CopySource is `bucket/key` with the key URL-encoded, '/' kept.
const COPY_SOURCE_KEEP: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'/')
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~');

/// Whole-object size from a Content-Range such as `bytes 0-65535/1048576`.
fn total_size(content_range: Option<&str>) -> Option<u64> {
    content_range?.rsplit_once('/')?.1.parse().ok()
}

async fn collect(body: ByteStream) -> Result<Vec<u8>, ServiceError> {
    body.collect()
        .await
        .map(|data| data.into_bytes().to_vec())
        .map_err(|err| ServiceError::Failed {
            service: "S3",
            operation: "GetObject body",
            message: err.to_string(),
        })
}

#[async_trait]
impl ObjectStore for S3Objects {
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, ServiceError> {
        match self.client.head_object().bucket(bucket).key(key).send().await {
            Ok(head) => Ok(Some(head.content_length.unwrap_or(0).max(0) as u64)),
            Err(err) if err.as_service_error().is_some_and(|e| e.is_not_found()) => Ok(None),
            Err(err) => Err(service_error("S3", "HeadObject", &err)),
        }
    }

    async fn read_limited(
        &self,
        bucket: &str,
        key: &str,
        max_bytes: u64,
    ) -> Result<ObjectRead, ServiceError> {
        let output = match self.client.get_object().bucket(bucket).key(key).send().await {
            Ok(output) => output,
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => {
                return Ok(ObjectRead::Missing)
            }
            Err(err) => return Err(service_error("S3", "GetObject", &err)),
        };
        let size = output.content_length.unwrap_or(0).max(0) as u64;
        if size > max_bytes {
            // Dropping the body closes the stream without downloading the rest.
            return Ok(ObjectRead::TooLarge { size });
        }
        Ok(ObjectRead::Body(collect(output.body).await?))
    }

    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
    ) -> Result<Option<ObjectHead>, ServiceError> {
        let range = format!("bytes=0-{}", bytes.saturating_sub(1));
        match self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .range(range)
            .send()
            .await
        {
            Ok(output) => {
                let size = total_size(output.content_range.as_deref())
                    .unwrap_or(output.content_length.unwrap_or(0).max(0) as u64);
                Ok(Some(ObjectHead {
                    bytes: collect(output.body).await?,
                    size,
                }))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            // An empty object has no byte 0: S3 answers InvalidRange.
            Err(err) if aws_sdk_s3::error::ProvideErrorMetadata::code(&err) == Some("InvalidRange") => {
                Ok(Some(ObjectHead {
                    bytes: Vec::new(),
                    size: 0,
                }))
            }
            Err(err) => Err(service_error("S3", "GetObject", &err)),
        }
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ServiceError> {
        self.client
            .put_object()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .body(ByteStream::from(body))
            .send()
            .await
            .map_err(|e| service_error("S3", "PutObject", &e))?;
        Ok(())
    }

    async fn copy(&self, bucket: &str, from_key: &str, to_key: &str) -> Result<(), ServiceError> {
        let source = format!("{bucket}/{}", utf8_percent_encode(from_key, COPY_SOURCE_KEEP));
        self.client
            .copy_object()
            .bucket(bucket)
            .key(to_key)
            .copy_source(source)
            .send()
            .await
            .map_err(|e| service_error("S3", "CopyObject", &e))?;
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), ServiceError> {
        self.client
            .delete_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| service_error("S3", "DeleteObject", &e))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::total_size;

    #[test]
    fn total_size_comes_from_content_range() {
        assert_eq!(total_size(Some("bytes 0-65535/1048576")), Some(1_048_576));
        assert_eq!(total_size(Some("bytes 0-9/*")), None);
        assert_eq!(total_size(None), None);
    }
}
