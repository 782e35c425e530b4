//! The HTTPS client the notify function posts to the Slack webhook with.

use std::time::Duration;

use async_trait::async_trait;
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;
use recoflow_core::ports::{WebhookPoster, WebhookReply};
use tokio::sync::OnceCell;

type Client = HttpClient<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Posts JSON over HTTPS (or HTTP, for a local stand-in).
pub struct HttpsPoster {
    /// Built at the first post: reading the system's root certificates costs start-up time,
    /// and most invocations post nothing.
    client: OnceCell<Client>,
    timeout: Duration,
}

impl HttpsPoster {
    pub fn new(timeout: Duration) -> Self {
        Self {
            client: OnceCell::new(),
            timeout,
        }
    }

    async fn client(&self) -> Result<&Client, String> {
        self.client
            .get_or_try_init(|| async {
                let provider = rustls::crypto::aws_lc_rs::default_provider();
                let connector = hyper_rustls::HttpsConnectorBuilder::new()
                    .with_provider_and_native_roots(provider)
                    .map_err(|e| format!("no TLS root certificates: {e}"))?
                    .https_or_http()
                    .enable_http1()
                    .build();
                Ok(HttpClient::builder(TokioExecutor::new()).build(connector))
            })
            .await
    }
}

#[async_trait]
impl WebhookPoster for HttpsPoster {
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<WebhookReply, String> {
        let request = hyper::Request::post(url)
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body.to_string())))
            .map_err(|_| "the webhook URL is not a valid URL".to_owned())?;
        let client = self.client().await?;
        let call = async {
            let response = client.request(request).await.map_err(|e| e.to_string())?;
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned);
            let bytes = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok(WebhookReply {
                status,
                body: String::from_utf8_lossy(&bytes).chars().take(1_000).collect(),
                retry_after,
            })
        };
        match tokio::time::timeout(self.timeout, call).await {
            Ok(result) => result,
            Err(_) => Err(format!("no answer within {} s", self.timeout.as_secs())),
        }
    }
}
