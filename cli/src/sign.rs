//! SigV4 signing of the CLI's own HTTP calls (the API: service `execute-api`; CloudFormation),
//! with credentials from the standard AWS chain (`aws-config`).

use std::time::{Duration, SystemTime};

use aws_credential_types::provider::{ProvideCredentials, SharedCredentialsProvider};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{sign, SignableBody, SignableRequest, SigningSettings};
use aws_sigv4::sign::v4;
use aws_smithy_runtime_api::client::identity::Identity;
use http_body_util::Full;
use hyper::body::Bytes;
use tokio::sync::Mutex;

use crate::exit::CliError;

/// Credentials are fetched again this long before they expire (a long `--follow`).
const REFRESH_BEFORE_EXPIRY: Duration = Duration::from_secs(300);

/// Signs requests for one region; credentials are fetched at the first request and cached.
pub struct Signer {
    provider: SharedCredentialsProvider,
    region: String,
    cached: Mutex<Option<Credentials>>,
}

impl Signer {
    pub fn new(provider: SharedCredentialsProvider, region: String) -> Self {
        Self {
            provider,
            region,
            cached: Mutex::new(None),
        }
    }

    async fn credentials(&self) -> Result<Credentials, CliError> {
        let mut cached = self.cached.lock().await;
        let fresh = cached.as_ref().is_some_and(|c| {
            c.expiry()
                .is_none_or(|expiry| expiry > SystemTime::now() + REFRESH_BEFORE_EXPIRY)
        });
        if !fresh {
            let credentials = self.provider.provide_credentials().await.map_err(|err| {
                CliError::Unavailable(format!(
                    "no AWS credentials: {err} (set AWS_PROFILE or AWS_ACCESS_KEY_ID, or use --profile)"
                ))
            })?;
            *cached = Some(credentials);
        }
        Ok(cached.clone().expect("credentials were just stored"))
    }

    /// Adds the SigV4 headers (`authorization`, `x-amz-date`, and `x-amz-security-token` for
    /// temporary credentials) for `service`. Every header already on the request is signed.
    pub async fn sign(
        &self,
        service: &str,
        request: &mut hyper::Request<Full<Bytes>>,
        body: &[u8],
    ) -> Result<(), CliError> {
        let identity: Identity = self.credentials().await?.into();
        self.sign_at(&identity, service, request, body, SystemTime::now())
    }

    fn sign_at(
        &self,
        identity: &Identity,
        service: &str,
        request: &mut hyper::Request<Full<Bytes>>,
        body: &[u8],
        time: SystemTime,
    ) -> Result<(), CliError> {
        let signing_failed =
            |err: &dyn std::fmt::Display| CliError::Usage(format!("cannot sign the request: {err}"));
        let params = v4::SigningParams::builder()
            .identity(identity)
            .region(&self.region)
            .name(service)
            .time(time)
            .settings(SigningSettings::default())
            .build()
            .map_err(|e| signing_failed(&e))?
            .into();
        let uri = request.uri().to_string();
        let headers = request
            .headers()
            .iter()
            .filter_map(|(name, value)| Some((name.as_str(), value.to_str().ok()?)));
        let signable =
            SignableRequest::new(request.method().as_str(), uri, headers, SignableBody::Bytes(body))
                .map_err(|e| signing_failed(&e))?;
        let (instructions, _signature) = sign(signable, &params)
            .map_err(|e| signing_failed(&e))?
            .into_parts();
        instructions.apply_to_request_http1x(request);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signer() -> Signer {
        let credentials = Credentials::new(
            "AKIDEXAMPLE",
            "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
            None,
            None,
            "test",
        );
        Signer::new(SharedCredentialsProvider::new(credentials), "us-east-1".into())
    }

    fn request(body: &str) -> hyper::Request<Full<Bytes>> {
        hyper::Request::post("https://abc123.execute-api.us-east-1.amazonaws.com/Prod/jobs?limit=5")
            .header("content-type", "application/json")
            .header("idempotency-key", "k-1")
            .body(Full::new(Bytes::from(body.to_owned())))
            .unwrap()
    }

    #[tokio::test]
    async fn requests_carry_a_sigv4_authorization_for_the_service() {
        let mut req = request("{}");
        signer().sign("execute-api", &mut req, b"{}").await.unwrap();
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(
            auth.starts_with("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"),
            "{auth}"
        );
        assert!(auth.contains("/us-east-1/execute-api/aws4_request"), "{auth}");
        assert!(
            auth.contains("SignedHeaders=content-type;host;idempotency-key;x-amz-date"),
            "{auth}"
        );
        assert!(req.headers().contains_key("x-amz-date"));
        assert!(!req.headers().contains_key("x-amz-security-token"));
    }

    #[test]
    fn the_signature_covers_the_body_and_is_deterministic() {
        let signer = signer();
        let identity: Identity = Credentials::new("AKIDEXAMPLE", "secret", None, None, "t").into();
        let at = SystemTime::UNIX_EPOCH + Duration::from_secs(1_790_000_000);
        let signature = |body: &str| {
            let mut req = request(body);
            signer
                .sign_at(&identity, "execute-api", &mut req, body.as_bytes(), at)
                .unwrap();
            req.headers()["authorization"].to_str().unwrap().to_owned()
        };
        assert_eq!(signature("{\"a\":1}"), signature("{\"a\":1}"));
        assert_ne!(signature("{\"a\":1}"), signature("{\"a\":2}"));
    }

    #[tokio::test]
    async fn temporary_credentials_send_their_session_token() {
        let credentials = Credentials::new("ASIA1", "secret", Some("token-1".into()), None, "test");
        let signer = Signer::new(SharedCredentialsProvider::new(credentials), "eu-west-1".into());
        let mut req = request("");
        signer.sign("cloudformation", &mut req, b"").await.unwrap();
        assert_eq!(req.headers()["x-amz-security-token"], "token-1");
        let auth = req.headers()["authorization"].to_str().unwrap();
        assert!(auth.contains("/eu-west-1/cloudformation/aws4_request"), "{auth}");
    }
}
