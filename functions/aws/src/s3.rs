use std::future::Future;
use std::pin::Pin;
use std::time::{Duration, SystemTime};

use async_trait::async_trait;
use aws_sdk_s3::config::{Credentials, ProvideCredentials, SharedCredentialsProvider};
use aws_sdk_s3::presigning::PresigningConfig;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;
use percent_encoding::{utf8_percent_encode, AsciiSet, NON_ALPHANUMERIC};

use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{
    KeyPage, ObjectHead, ObjectRead, ObjectStore, ObjectStream, ObjectVersion, PresignedUrl, SecretSource,
};
use recoflow_core::resuming_read::{Reopen, ResumingRead};
use tokio::sync::{mpsc, Mutex};
use tracing::warn;

use crate::service_error;

pub struct S3Objects {
    client: Client,
    /// The client's credentials, to tell how long a URL they sign works (`None`: not known).
    credentials: Option<SharedCredentialsProvider>,
    signing_key: Option<SigningKey>,
}

/// An IAM user's access key kept as a secret (JSON `access_key_id`, `secret_access_key`) that
/// presigned URLs are signed with when it is there: a URL signed with a role's temporary
/// credentials stops working when they expire (hours), one signed with a key lasts its
/// whole lifetime (S3 allows 7 days).
struct SigningKey {
    source: Box<dyn SecretSource>,
    /// The client signing with the key last read, and that key's secret text.
    client: Mutex<Option<(String, Client)>>,
}

impl S3Objects {
    /// Objects through the shared config's S3 client (whose credentials sign its URLs).
    pub fn from_sdk(sdk: &aws_config::SdkConfig) -> Self {
        Self {
            client: Self::client_for(sdk),
            credentials: sdk.credentials_provider(),
            signing_key: None,
        }
    }

    /// Presigned URLs are signed with the key `source` holds while it holds one (when it holds
    /// none, a malformed one or cannot be read, that is logged and the role signs).
    pub fn with_signing_key(mut self, source: impl SecretSource + 'static) -> Self {
        self.signing_key = Some(SigningKey {
            source: Box::new(source),
            client: Mutex::new(None),
        });
        self
    }

    /// S3 client from the shared config. Path-style addressing when an endpoint is overridden
    /// (the local stack), since `bucket.127.0.0.1` does not resolve.
    fn client_for(sdk: &aws_config::SdkConfig) -> Client {
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
    ) -> Result<PresignedUrl, ServiceError> {
        // Signed here, with no call to S3: SigV4 query parameters valid for `expires_in`.
        let config = PresigningConfig::expires_in(expires_in).map_err(|e| ServiceError::Failed {
            service: "S3",
            operation: "presign GetObject",
            message: e.to_string(),
        })?;
        let (client, works_for) = match self.key_signer().await {
            Some(client) => (client, Some(expires_in)),
            None => (self.client.clone(), self.role_signed_lifetime(expires_in).await),
        };
        let request = client
            .get_object()
            .bucket(bucket)
            .key(key)
            .presigned(config)
            .await
            .map_err(|e| service_error("S3", "presign GetObject", &e))?;
        Ok(PresignedUrl {
            url: request.uri().to_owned(),
            works_for,
        })
    }
}

impl S3Objects {
    /// A client signing with the signing key, when one is configured and its secret holds a
    /// usable one. A link is an extra: a key that cannot be read or used is logged (never its
    /// secret) and the role signs, its link saying it lasts only the role's session.
    async fn key_signer(&self) -> Option<Client> {
        let signing_key = self.signing_key.as_ref()?;
        let text = match signing_key.source.secret().await {
            Ok(text) => text?,
            Err(e) => {
                warn!(error = %e, "the download signing key cannot be read: the role signs");
                return None;
            }
        };
        let mut cached = signing_key.client.lock().await;
        if let Some((cached_text, client)) = cached.as_ref() {
            if *cached_text == text {
                return Some(client.clone());
            }
        }
        let (id, secret) = parse_signing_key(&text)
            .inspect_err(
                |problem| warn!(problem = %problem, "the download signing key is not usable: the role signs"),
            )
            .ok()?;
        let config = self
            .client
            .config()
            .to_builder()
            .credentials_provider(Credentials::new(id, secret, None, None, "recoflow-signing-key"))
            .build();
        let client = Client::from_conf(config);
        *cached = Some((text, client.clone()));
        Some(client)
    }

    /// How long a URL signed with the client's own credentials works: its lifetime, unless
    /// they are temporary (a session token), when it is their expiry if they tell it and
    /// unknown (`None`) if not, as in a Lambda function, whose role credentials come from the
    /// environment without one.
    async fn role_signed_lifetime(&self, expires_in: Duration) -> Option<Duration> {
        let credentials = self.credentials.as_ref()?.provide_credentials().await.ok()?;
        match (credentials.expiry(), credentials.session_token()) {
            (Some(expiry), _) => {
                let left = expiry.duration_since(SystemTime::now()).unwrap_or_default();
                Some(expires_in.min(left))
            }
            (None, Some(_)) => None,
            (None, None) => Some(expires_in),
        }
    }
}

/// The access key id and secret of a signing key's JSON, or what is wrong with it (never the
/// secret itself).
fn parse_signing_key(text: &str) -> Result<(String, String), String> {
    #[derive(serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    struct Key {
        access_key_id: String,
        secret_access_key: String,
    }
    let key: Key = serde_json::from_str(text).map_err(|e| {
        // serde's message may quote the input: only its kind and place are said.
        format!(
            "expected JSON {{\"access_key_id\": …, \"secret_access_key\": …}} ({:?} at column {})",
            e.classify(),
            e.column()
        )
    })?;
    if key.access_key_id.trim().is_empty() {
        return Err("access_key_id is empty".into());
    }
    if key.secret_access_key.is_empty() {
        return Err("secret_access_key is empty".into());
    }
    Ok((key.access_key_id.trim().to_owned(), key.secret_access_key))
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
    use std::sync::Mutex as StdMutex;

    use aws_sdk_s3::config::{BehaviorVersion, Region};

    use super::*;

    #[test]
    fn total_size_comes_from_content_range() {
        assert_eq!(total_size(Some("bytes 0-65535/1048576")), Some(1_048_576));
        assert_eq!(total_size(Some("bytes 0-9/*")), None);
        assert_eq!(total_size(None), None);
    }

    /// Objects of a shared config with these credentials (no call leaves the process:
    /// presigning is local).
    fn objects(credentials: Credentials) -> S3Objects {
        let sdk = aws_config::SdkConfig::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new("eu-west-1"))
            .credentials_provider(SharedCredentialsProvider::new(credentials))
            .build();
        S3Objects::from_sdk(&sdk)
    }

    /// A secret the test changes while the adapter holds it (`Err`: SSM cannot be read).
    #[derive(Clone)]
    struct Secret(std::sync::Arc<StdMutex<Result<Option<String>, ()>>>);

    impl Secret {
        fn set(&self, value: Result<Option<&str>, ()>) {
            *self.0.lock().unwrap() = value.map(|v| v.map(str::to_owned));
        }
    }

    #[async_trait]
    impl SecretSource for Secret {
        async fn secret(&self) -> Result<Option<String>, ServiceError> {
            self.0.lock().unwrap().clone().map_err(|()| ServiceError::Failed {
                service: "SSM",
                operation: "GetParameter",
                message: "throttled".into(),
            })
        }
    }

    const WEEK: Duration = Duration::from_secs(7 * 86_400);

    fn credential_of(url: &str) -> &str {
        let start = url.find("X-Amz-Credential=").unwrap() + "X-Amz-Credential=".len();
        url[start..].split("%2F").next().unwrap()
    }

    #[tokio::test]
    async fn a_url_signed_by_a_session_says_it_lasts_no_longer_than_the_session() {
        let key = Credentials::new("AKIAKEY", "secret", None, None, "test");
        let signed = objects(key).presign_get("b", "k.csv", WEEK).await.unwrap();
        assert_eq!(
            signed.works_for,
            Some(WEEK),
            "a long-term key: the whole lifetime"
        );
        assert_eq!(credential_of(&signed.url), "AKIAKEY");

        let lambda = Credentials::new("ASIAROLE", "secret", Some("token".into()), None, "test");
        let signed = objects(lambda).presign_get("b", "k.csv", WEEK).await.unwrap();
        assert_eq!(signed.works_for, None, "a session of unknown end: no promise");

        let ends = SystemTime::now() + Duration::from_secs(3_600);
        let told = Credentials::new("ASIAROLE", "secret", Some("token".into()), Some(ends), "test");
        let signed = objects(told).presign_get("b", "k.csv", WEEK).await.unwrap();
        let works_for = signed.works_for.unwrap();
        assert!(works_for <= Duration::from_secs(3_600) && works_for > Duration::from_secs(3_500));
    }

    #[tokio::test]
    async fn the_signing_key_signs_while_its_secret_holds_one() {
        let lambda = Credentials::new("ASIAROLE", "secret", Some("token".into()), None, "test");
        let secret = Secret(std::sync::Arc::new(StdMutex::new(Ok(None))));
        secret.set(Ok(Some(
            r#"{"access_key_id": "AKIADOWNLOADS", "secret_access_key": "s3cr3t"}"#,
        )));
        let objects = objects(lambda).with_signing_key(secret.clone());
        let signed = objects.presign_get("b", "k.csv", WEEK).await.unwrap();
        assert_eq!(credential_of(&signed.url), "AKIADOWNLOADS");
        assert_eq!(signed.works_for, Some(WEEK));
        assert!(!signed.url.contains("X-Amz-Security-Token"), "{}", signed.url);

        secret.set(Ok(Some(
            r#"{"access_key_id": "AKIAROTATED", "secret_access_key": "x"}"#,
        )));
        let signed = objects.presign_get("b", "k.csv", WEEK).await.unwrap();
        assert_eq!(credential_of(&signed.url), "AKIAROTATED", "a rotated key is used");

        for unusable in [Ok(None), Ok(Some("AKIA:secret")), Err(())] {
            secret.set(unusable);
            let signed = objects.presign_get("b", "k.csv", WEEK).await.unwrap();
            assert_eq!(
                credential_of(&signed.url),
                "ASIAROLE",
                "no usable key: the role signs"
            );
            assert_eq!(signed.works_for, None);
        }
    }

    #[test]
    fn a_malformed_signing_key_is_named_without_its_secret() {
        let parsed = parse_signing_key(r#"{"access_key_id": " AKIA ", "secret_access_key": "s"}"#);
        assert_eq!(parsed, Ok(("AKIA".to_owned(), "s".to_owned())));
        let problem = parse_signing_key(r#"{"access_key_id": "AKIA", "secret_access_key": ""}"#);
        assert_eq!(problem, Err("secret_access_key is empty".to_owned()));
        let problem = parse_signing_key(r#"{"access_key_id": "AKIA", "secret": "hunter2"}"#).unwrap_err();
        assert!(
            problem.contains("expected JSON") && !problem.contains("hunter2"),
            "{problem}"
        );
        let problem = parse_signing_key("hunter2").unwrap_err();
        assert!(!problem.contains("hunter2"), "{problem}");
    }
}
