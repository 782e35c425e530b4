//! The HTTPS client of the CLI's own calls (the API, CloudFormation): the hyper/rustls crates
//! the AWS SDK already builds, bounded waits, and bounded jittered retries.

use std::time::{Duration, Instant};

use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::Method;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use recoflow_core::backoff::full_jitter;

use crate::exit::CliError;
use crate::sign::Signer;

/// A refused or silent address is given up on within this, retries included (scripts and CI
/// want an answer, and "unreachable" is an answer).
pub const RETRY_WINDOW: Duration = Duration::from_secs(8);
const CONNECT_TIMEOUT: Duration = Duration::from_millis(2_500);
const MAX_ATTEMPTS: u32 = 3;

/// One request, as the commands describe it; signed afresh at each attempt.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub method: Method,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
    /// SigV4 service name; `None` sends the request unsigned.
    pub service: Option<&'static str>,
}

#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body: Bytes,
}

/// Why no answer came. The message says what was tried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NoAnswer(String);

type HttpsClient = Client<hyper_rustls::HttpsConnector<HttpConnector>, Full<Bytes>>;

pub struct Http {
    client: HttpsClient,
    timeout: Duration,
}

impl Http {
    /// `timeout`: the longest wait for one answer once connected.
    pub fn new(timeout: Duration) -> Result<Self, CliError> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
        connector.enforce_http(false);
        let https = hyper_rustls::HttpsConnectorBuilder::new()
            .with_provider_and_native_roots(rustls::crypto::aws_lc_rs::default_provider())
            .map_err(|e| CliError::Unavailable(format!("no TLS root certificates on this machine: {e}")))?
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        Ok(Self {
            client: Client::builder(TokioExecutor::new()).build(https),
            timeout,
        })
    }

    /// Sends `request`, retrying what is safe to retry: no connection, no answer in time, and
    /// the throttling and gateway answers (429, 502, 503, 504). Every recoflow call is safe to
    /// repeat (GETs, DELETE of a job, submissions carry an idempotency key).
    pub async fn send(&self, request: &Outgoing, signer: Option<&Signer>) -> Result<Reply, CliError> {
        let started = Instant::now();
        let mut attempt = 1;
        loop {
            let outcome = self.attempt(request, signer).await?;
            let retryable = match &outcome {
                Ok(reply) => matches!(reply.status, 429 | 502 | 503 | 504),
                Err(_) => true,
            };
            let wait = Duration::from_millis(full_jitter(250, attempt, 2_000));
            let in_window = started.elapsed() + wait + CONNECT_TIMEOUT <= RETRY_WINDOW;
            if !retryable || attempt >= MAX_ATTEMPTS || !in_window {
                return outcome.map_err(|NoAnswer(reason)| {
                    let tries = if attempt > 1 {
                        format!(" ({attempt} tries)")
                    } else {
                        String::new()
                    };
                    CliError::Unavailable(format!("{reason}{tries}"))
                });
            }
            tokio::time::sleep(wait).await;
            attempt += 1;
        }
    }

    async fn attempt(
        &self,
        request: &Outgoing,
        signer: Option<&Signer>,
    ) -> Result<Result<Reply, NoAnswer>, CliError> {
        let mut builder = hyper::Request::builder()
            .method(request.method.clone())
            .uri(&request.url);
        for (name, value) in &request.headers {
            builder = builder.header(*name, value);
        }
        let mut http_request = builder
            .body(Full::new(Bytes::from(request.body.clone())))
            .map_err(|e| CliError::Usage(format!("{} is not a usable URL: {e}", request.url)))?;
        let host = http_request
            .uri()
            .authority()
            .map(|a| a.as_str().to_owned())
            .ok_or_else(|| CliError::Usage(format!("{} is not an absolute http(s) URL", request.url)))?;
        http_request.headers_mut().insert(
            hyper::header::HOST,
            host.parse()
                .map_err(|_| CliError::Usage(format!("{host} is not a host name")))?,
        );
        if let (Some(signer), Some(service)) = (signer, request.service) {
            signer.sign(service, &mut http_request, &request.body).await?;
        }
        let exchange = async {
            let response = self
                .client
                .request(http_request)
                .await
                .map_err(|e| describe(&e))?;
            let status = response.status().as_u16();
            let body = response
                .into_body()
                .collect()
                .await
                .map_err(|e| e.to_string())?
                .to_bytes();
            Ok::<_, String>(Reply { status, body })
        };
        let what = format!("{} {}", request.method, request.url);
        Ok(match tokio::time::timeout(self.timeout, exchange).await {
            Ok(Ok(reply)) => Ok(reply),
            Ok(Err(reason)) => Err(NoAnswer(format!("cannot reach {what}: {reason}"))),
            Err(_) => Err(NoAnswer(format!(
                "no answer from {what} within {} s",
                self.timeout.as_secs()
            ))),
        })
    }
}

/// hyper's error with its causes ("client error (Connect): tcp connect error: Connection
/// refused"): the innermost cause is the one a person can act on.
fn describe(err: &(dyn std::error::Error + 'static)) -> String {
    let mut reasons = vec![err.to_string()];
    let mut source = err.source();
    while let Some(cause) = source {
        reasons.push(cause.to_string());
        source = cause.source();
    }
    reasons.dedup();
    reasons.last().cloned().unwrap_or_default()
}

#[cfg(test)]
pub mod stub {
    //! A local HTTP server answering canned responses and keeping what it received.

    use std::sync::{Arc, Mutex};

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;

    #[derive(Debug, Clone)]
    pub struct Received {
        pub head: String,
        pub body: String,
    }

    impl Received {
        pub fn header(&self, name: &str) -> Option<String> {
            self.head.lines().find_map(|line| {
                let (key, value) = line.split_once(':')?;
                key.eq_ignore_ascii_case(name).then(|| value.trim().to_owned())
            })
        }
    }

    /// Serves `answers` (status, JSON body) in order, the last one forever; the address and
    /// what arrived.
    pub async fn serve(answers: Vec<(u16, &'static str)>) -> (String, Arc<Mutex<Vec<Received>>>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let received = Arc::new(Mutex::new(Vec::new()));
        let log = received.clone();
        tokio::spawn(async move {
            let mut index = 0;
            loop {
                let Ok((mut socket, _)) = listener.accept().await else {
                    return;
                };
                let (status, body) = answers[index.min(answers.len() - 1)];
                index += 1;
                let request = read_request(&mut socket).await;
                log.lock().unwrap().push(request);
                let reply = format!(
                    "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
                let _ = socket.write_all(reply.as_bytes()).await;
            }
        });
        (url, received)
    }

    async fn read_request(socket: &mut tokio::net::TcpStream) -> Received {
        let mut data = Vec::new();
        let mut buf = [0u8; 4096];
        loop {
            let n = socket.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                break;
            }
            data.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&data).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let head = text[..end].to_owned();
                let length = Received {
                    head: head.clone(),
                    body: String::new(),
                }
                .header("content-length")
                .and_then(|l| l.parse::<usize>().ok())
                .unwrap_or(0);
                if data.len() >= end + 4 + length {
                    let body = String::from_utf8_lossy(&data[end + 4..end + 4 + length]).to_string();
                    return Received { head, body };
                }
            }
        }
        Received {
            head: String::from_utf8_lossy(&data).to_string(),
            body: String::new(),
        }
    }
}

#[cfg(test)]
mod tests {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;

    use super::*;

    fn get(url: &str) -> Outgoing {
        Outgoing {
            method: Method::GET,
            url: url.to_owned(),
            headers: vec![("accept", "application/json".into())],
            body: vec![],
            service: Some("execute-api"),
        }
    }

    fn signer() -> Signer {
        let credentials = Credentials::new("AKIDTEST", "secret", None, None, "test");
        Signer::new(SharedCredentialsProvider::new(credentials), "us-east-1".into())
    }

    #[tokio::test]
    async fn a_signed_request_reaches_the_server_with_its_host_and_signature() {
        let (url, received) = stub::serve(vec![(200, "{\"ok\":true}")]).await;
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let reply = http
            .send(&get(&format!("{url}/Prod/jobs?limit=5")), Some(&signer()))
            .await
            .unwrap();
        assert_eq!(reply.status, 200);
        let seen = received.lock().unwrap()[0].clone();
        assert!(
            seen.head.starts_with("GET /Prod/jobs?limit=5 HTTP/1.1"),
            "{}",
            seen.head
        );
        assert_eq!(seen.header("host").unwrap(), url.trim_start_matches("http://"));
        let auth = seen.header("authorization").unwrap();
        assert!(
            auth.contains("Credential=AKIDTEST/") && auth.contains("SignedHeaders=accept;host;x-amz-date"),
            "{auth}"
        );
    }

    #[tokio::test]
    async fn gateway_errors_are_retried_then_answered() {
        let (url, received) = stub::serve(vec![(503, "{}"), (200, "{}")]).await;
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let reply = http.send(&get(&format!("{url}/x")), None).await.unwrap();
        assert_eq!(reply.status, 200);
        assert_eq!(received.lock().unwrap().len(), 2);
        let (url, received) = stub::serve(vec![(404, "{}")]).await;
        assert_eq!(
            http.send(&get(&format!("{url}/x")), None).await.unwrap().status,
            404
        );
        assert_eq!(
            received.lock().unwrap().len(),
            1,
            "a 404 is an answer, not retried"
        );
    }

    #[tokio::test]
    async fn a_refused_address_is_unavailable_within_the_window() {
        let port = {
            let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            listener.local_addr().unwrap().port()
        };
        let http = Http::new(Duration::from_secs(5)).unwrap();
        let started = Instant::now();
        let err = http
            .send(&get(&format!("http://127.0.0.1:{port}/x")), None)
            .await
            .unwrap_err();
        assert!(started.elapsed() < RETRY_WINDOW + Duration::from_secs(1));
        assert_eq!(err.exit().code(), 5);
        let text = err.to_string();
        assert!(
            text.contains(&format!("127.0.0.1:{port}")) && text.to_lowercase().contains("refused"),
            "{text}"
        );
    }

    #[tokio::test]
    async fn a_silent_server_times_out() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/x", listener.local_addr().unwrap());
        tokio::spawn(async move {
            let mut open = Vec::new();
            while let Ok((socket, _)) = listener.accept().await {
                open.push(socket);
            }
        });
        let http = Http::new(Duration::from_secs(1)).unwrap();
        let started = Instant::now();
        let err = http.send(&get(&url), None).await.unwrap_err();
        assert!(started.elapsed() < RETRY_WINDOW + Duration::from_secs(1));
        assert!(err.to_string().contains("no answer"), "{err}");
        assert_eq!(err.exit().code(), 5);
    }
}
