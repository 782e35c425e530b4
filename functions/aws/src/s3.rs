use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use async_trait::async_trait;
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{KeyPage, ObjectHead, ObjectRead, ObjectStore, ObjectStream, ObjectVersion};
use recoflow_core::resuming_read::{Reopen, ResumingRead};
use tokio::sync::mpsc;

use crate::service_error;

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

/// Size of each part of a multipart upload (S3's minimum is 5 MiB, but the last part).
const PART_BYTES: usize = 8 * 1024 * 1024;

impl S3Objects {
    async fn upload_parts(
        &self,
        bucket: &str,
        key: &str,
        upload_id: &str,
        first: Vec<u8>,
        chunks: &mut mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, ServiceError> {
        let mut completed = Vec::new();
        let mut size = 0u64;
        let mut part = first;
        let mut more = true;
        while more {
            while part.len() < PART_BYTES {
                match chunks.recv().await {
                    Some(chunk) => part.extend(chunk),
                    None => {
                        more = false;
                        break;
                    }
                }
            }
            if part.is_empty() {
                break;
            }
            let number = completed.len() as i32 + 1;
            size += part.len() as u64;
            let output = self
                .client
                .upload_part()
                .bucket(bucket)
                .key(key)
                .upload_id(upload_id)
                .part_number(number)
                .body(ByteStream::from(std::mem::take(&mut part)))
                .send()
                .await
                .map_err(|e| service_error("S3", "UploadPart", &e))?;
            completed.push(
                aws_sdk_s3::types::CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(output.e_tag)
                    .build(),
            );
        }
        self.client
            .complete_multipart_upload()
            .bucket(bucket)
            .key(key)
            .upload_id(upload_id)
            .multipart_upload(
                aws_sdk_s3::types::CompletedMultipartUpload::builder()
                    .set_parts(Some(completed))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| service_error("S3", "CompleteMultipartUpload", &e))?;
        Ok(size)
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
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<ObjectRead, ServiceError> {
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .set_version_id(version_id.map(str::to_owned));
        let output = match request.send().await {
            Ok(output) => output,
            Err(err)
                if err.as_service_error().is_some_and(|e| e.is_no_such_key())
                    || crate::error_code(&err) == Some("NoSuchVersion") =>
            {
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
                let version = ObjectVersion {
                    version_id: output.version_id.clone().filter(|id| id != "null"),
                    etag: output
                        .e_tag
                        .as_deref()
                        .map(|etag| etag.trim_matches('"').to_owned()),
                    last_modified: output.last_modified.map(|at| at.secs()),
                };
                Ok(Some(ObjectHead {
                    bytes: collect(output.body).await?,
                    size,
                    version,
                }))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            // An empty object has no byte 0: S3 answers InvalidRange.
            // (Its version is not known: an empty file is never the same data as another.)
            Err(err) if crate::error_code(&err) == Some("InvalidRange") => Ok(Some(ObjectHead {
                bytes: Vec::new(),
                size: 0,
                version: ObjectVersion::default(),
            })),
            Err(err) => Err(service_error("S3", "GetObject", &err)),
        }
    }

    async fn open(&self, bucket: &str, key: &str, offset: u64) -> Result<Option<ObjectStream>, ServiceError> {
        let request = self.client.get_object().bucket(bucket).key(key);
        let request = if offset > 0 {
            request.range(format!("bytes={offset}-"))
        } else {
            request
        };
        match request.send().await {
            Ok(output) => {
                let body: ObjectStream = Box::pin(output.body.into_async_read());
                let reopen = Resume {
                    client: self.client.clone(),
                    bucket: bucket.to_owned(),
                    key: key.to_owned(),
                    etag: output.e_tag,
                };
                Ok(Some(Box::pin(ResumingRead::new(body, offset, reopen))))
            }
            Err(err) if err.as_service_error().is_some_and(|e| e.is_no_such_key()) => Ok(None),
            // Resuming exactly at the end of the object: nothing left to read.
            Err(err) if offset > 0 && crate::error_code(&err) == Some("InvalidRange") => {
                Ok(Some(Box::pin(tokio::io::empty())))
            }
            Err(err) => Err(service_error("S3", "GetObject", &err)),
        }
    }

    async fn list(&self, bucket: &str, prefix: &str, max: usize) -> Result<Vec<String>, ServiceError> {
        let mut keys = Vec::new();
        let mut pages = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| service_error("S3", "ListObjectsV2", &e))?;
            keys.extend(page.contents().iter().filter_map(|o| o.key().map(str::to_owned)));
            if keys.len() >= max {
                break;
            }
        }
        keys.sort();
        keys.truncate(max);
        Ok(keys)
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<KeyPage, ServiceError> {
        let page = self
            .client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(prefix)
            .set_start_after(start_after.map(str::to_owned))
            .set_continuation_token(continuation.map(str::to_owned))
            .send()
            .await
            .map_err(|e| service_error("S3", "ListObjectsV2", &e))?;
        let keys = page
            .contents()
            .iter()
            .filter_map(|o| o.key().map(str::to_owned))
            .collect();
        // A truncated page names where the next starts; the last has no token.
        let continuation = page
            .is_truncated()
            .unwrap_or(false)
            .then(|| page.next_continuation_token().map(str::to_owned))
            .flatten();
        Ok(KeyPage { keys, continuation })
    }

    async fn put_chunks(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        mut chunks: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, ServiceError> {
        // Small objects are one PUT; beyond one part, a multipart upload of ≥ 8 MiB parts.
        let mut part = Vec::new();
        while part.len() < PART_BYTES {
            match chunks.recv().await {
                Some(chunk) => part.extend(chunk),
                None => {
                    let size = part.len() as u64;
                    self.put(bucket, key, part, content_type).await?;
                    return Ok(size);
                }
            }
        }
        let upload = self
            .client
            .create_multipart_upload()
            .bucket(bucket)
            .key(key)
            .content_type(content_type)
            .send()
            .await
            .map_err(|e| service_error("S3", "CreateMultipartUpload", &e))?;
        let upload_id = upload.upload_id.unwrap_or_default();
        let result = self
            .upload_parts(bucket, key, &upload_id, part, &mut chunks)
            .await;
        if result.is_err() {
            // Parts of an abandoned upload cost storage until aborted.
            let _ = self
                .client
                .abort_multipart_upload()
                .bucket(bucket)
                .key(key)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
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

    async fn copy(
        &self,
        bucket: &str,
        from_key: &str,
        version_id: Option<&str>,
        to_key: &str,
    ) -> Result<(), ServiceError> {
        let mut source = format!("{bucket}/{}", utf8_percent_encode(from_key, COPY_SOURCE_KEEP));
        if let Some(version_id) = version_id {
            source.push_str("?versionId=");
            source.push_str(&utf8_percent_encode(version_id, NON_ALPHANUMERIC).to_string());
        }
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

    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: Duration,
    ) -> Result<String, ServiceError> {
        // Signed here, with no call to S3: SigV4 query parameters valid for `expires_in`.
        let config = PresigningConfig::expires_in(expires_in).map_err(|e| ServiceError::Failed {
            service: "S3",
            operation: "presign GetObject",
            message: e.to_string(),
        })?;
        let request = self
            .client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| service_error("S3", "presign GetObject", &e))?;
        Ok(request.uri().to_owned())
    }
}

/// Asks S3 for the rest of an object whose stream broke: a ranged GetObject of the same
/// version (its ETag), so a changed object is refused rather than spliced.
struct Resume {
    client: Client,
    bucket: String,
    key: String,
    etag: Option<String>,
}

impl Reopen for Resume {
    fn reopen(&self, position: u64) -> Pin<Box<dyn Future<Output = std::io::Result<ObjectStream>> + Send>> {
        let request = self
            .client
            .get_object()
            .bucket(&self.bucket)
            .key(&self.key)
            .range(format!("bytes={position}-"))
            .set_if_match(self.etag.clone());
        let (bucket, key) = (self.bucket.clone(), self.key.clone());
        Box::pin(async move {
            match request.send().await {
                Ok(output) => Ok(Box::pin(output.body.into_async_read()) as ObjectStream),
                // The break came after the last byte: nothing is left.
                Err(err) if crate::error_code(&err) == Some("InvalidRange") => {
                    Ok(Box::pin(tokio::io::empty()) as ObjectStream)
                }
                Err(err) => Err(std::io::Error::other(format!(
                    "resuming s3://{bucket}/{key} at byte {position}: {}",
                    service_error("S3", "GetObject", &err)
                ))),
            }
        })
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
