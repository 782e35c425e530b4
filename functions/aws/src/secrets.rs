//! The key recommendation_ids are signed with: a Secrets Manager secret (its text is the key),
//! its current value (`AWSCURRENT`) signing and the previous one (`AWSPREVIOUS`, kept by a
//! rotation) still verifying. Re-read every `max_age`, and at once (at most every
//! `REFRESH_AT_MOST_EVERY`) when an id names a key this instance lacks.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use aws_sdk_secretsmanager::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::placement::recommendation_id::{KeyRing, SigningKey};
use recoflow_core::ports::SigningKeys;
use tokio::sync::Mutex;

use crate::{error_code, service_error};

/// However many unknown ids arrive, the secret is read at most this often for them.
const REFRESH_AT_MOST_EVERY: Duration = Duration::from_secs(10);

pub struct SecretsManagerKeys {
    client: Client,
    secret_id: String,
    max_age: Duration,
    cached: Mutex<Option<(Instant, KeyRing)>>,
}

impl SecretsManagerKeys {
    pub fn new(client: Client, secret_id: impl Into<String>, max_age: Duration) -> Self {
        Self {
            client,
            secret_id: secret_id.into(),
            max_age,
            cached: Mutex::new(None),
        }
    }

    /// The secret's text at a stage; `None` when the stage has no value (no rotation yet).
    async fn stage(&self, stage: &str) -> Result<Option<SigningKey>, ServiceError> {
        match self
            .client
            .get_secret_value()
            .secret_id(&self.secret_id)
            .version_stage(stage)
            .send()
            .await
        {
            Ok(output) => Ok(output
                .secret_string()
                .map(str::trim)
                .filter(|text| !text.is_empty())
                .map(|text| SigningKey::new(text.as_bytes().to_vec()))),
            Err(err) if error_code(&err) == Some("ResourceNotFoundException") && stage != "AWSCURRENT" => {
                Ok(None)
            }
            Err(err) => Err(service_error("SecretsManager", "GetSecretValue", &err)),
        }
    }
}

#[async_trait]
impl SigningKeys for SecretsManagerKeys {
    async fn ring(&self, refresh: bool) -> Result<KeyRing, ServiceError> {
        let mut cached = self.cached.lock().await;
        if let Some((read_at, ring)) = cached.as_ref() {
            let age = read_at.elapsed();
            if age < self.max_age && !(refresh && age >= REFRESH_AT_MOST_EVERY) {
                return Ok(ring.clone());
            }
        }
        let current = self
            .stage("AWSCURRENT")
            .await?
            .ok_or_else(|| ServiceError::Failed {
                service: "SecretsManager",
                operation: "GetSecretValue",
                message: format!("secret {} is empty", self.secret_id),
            })?;
        let previous = self.stage("AWSPREVIOUS").await?.filter(|key| *key != current);
        let ring = KeyRing { current, previous };
        *cached = Some((Instant::now(), ring.clone()));
        Ok(ring)
    }
}
