//! SSM parameters, re-read at most every `max_age` so an operator changes them with
//! `aws ssm put-parameter` and no redeploy: the quota limits (JSON), and secrets kept as
//! SecureStrings (the Slack webhook URL, the web page's access token; never logged).

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_ssm::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::{LimitSource, SecretSource};
use recoflow_core::quota::QuotaLimits;
use tokio::sync::Mutex;

use crate::{error_code, service_error};

pub struct SsmQuotaLimits {
    client: Client,
    parameter: String,
    max_age: Duration,
    cached: Mutex<Option<(Instant, Result<QuotaLimits, String>)>>,
}

impl SsmQuotaLimits {
    pub fn new(client: Client, parameter: impl Into<String>, max_age: Duration) -> Self {
        Self {
            client,
            parameter: parameter.into(),
            max_age,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl LimitSource for SsmQuotaLimits {
    async fn limits(&self) -> Result<Result<QuotaLimits, String>, ServiceError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, limits)) = cached.as_ref() {
            if read_at.elapsed() < self.max_age {
                return Ok(limits.clone());
            }
        }
        let output = self
            .client
            .get_parameter()
            .name(&self.parameter)
            .send()
            .await
            .map_err(|e| service_error("SSM", "GetParameter", &e))?;
        let value = output.parameter.and_then(|p| p.value).unwrap_or_default();
        let limits = QuotaLimits::parse(&value)
            .map_err(|problem| format!("SSM parameter {}: {problem}", self.parameter));
        *cached = Some((Instant::now(), limits.clone()));
        Ok(limits)
    }
}

pub struct SsmSecret {
    client: Client,
    parameter: String,
    max_age: Duration,
    cached: Mutex<Option<(Instant, Option<String>)>>,
}

impl SsmSecret {
    pub fn new(client: Client, parameter: impl Into<String>, max_age: Duration) -> Self {
        Self {
            client,
            parameter: parameter.into(),
            max_age,
            cached: Mutex::new(None),
        }
    }
}

#[async_trait]
impl SecretSource for SsmSecret {
    async fn secret(&self) -> Result<Option<String>, ServiceError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, url)) = cached.as_ref() {
            if read_at.elapsed() < self.max_age {
                return Ok(url.clone());
            }
        }
        let url = match self
            .client
            .get_parameter()
            .name(&self.parameter)
            .with_decryption(true)
            .send()
            .await
        {
            Ok(output) => output
                .parameter
                .and_then(|p| p.value)
                .map(|v| v.trim().to_owned())
                .filter(|v| !v.is_empty()),
            Err(err) if error_code(&err) == Some("ParameterNotFound") => None,
            Err(err) => return Err(service_error("SSM", "GetParameter", &err)),
        };
        *cached = Some((Instant::now(), url.clone()));
        Ok(url)
    }
}
