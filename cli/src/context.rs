//! What every command talks through: the resolved settings, and, built at first use, the
//! HTTP client, the AWS configuration and credentials, the stack's outputs and the API.
//! Commands that need none of them (validate offline, completions) touch no network.

use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use tokio::sync::OnceCell;

use crate::api::Api;
use crate::cloudformation::{self, Outputs};
use crate::config::Settings;
use crate::exit::CliError;
use crate::http::Http;
use crate::sign::Signer;

const NO_TARGET: &str = "no recoflow to talk to: give --stack NAME, --local or --api-url URL \
     (or RECOFLOW_STACK, RECOFLOW_LOCAL=1, RECOFLOW_API_URL, or stack = \"...\" in ~/.config/recoflow/config.toml)";

pub struct Aws {
    pub sdk: SdkConfig,
    pub signer: Signer,
}

pub struct Context {
    pub settings: Settings,
    /// `--json`: JSON documents on stdout, nothing else there.
    pub json: bool,
    http: OnceCell<Http>,
    aws: OnceCell<Aws>,
    outputs: OnceCell<Outputs>,
}

impl Context {
    pub fn new(settings: Settings, json: bool) -> Self {
        Self {
            settings,
            json,
            http: OnceCell::new(),
            aws: OnceCell::new(),
            outputs: OnceCell::new(),
        }
    }

    pub async fn http(&self) -> Result<&Http, CliError> {
        self.http
            .get_or_try_init(|| async { Http::new(self.settings.timeout) })
            .await
    }

    /// The AWS configuration: the standard chain (`--profile`, `--region` on top), or for
    /// `--local` LocalStack's test credentials.
    pub async fn aws(&self) -> Result<&Aws, CliError> {
        self.aws
            .get_or_try_init(|| async {
                let settings = &self.settings;
                let timeouts = TimeoutConfig::builder()
                    .connect_timeout(Duration::from_millis(2_500))
                    .operation_timeout(settings.timeout + Duration::from_secs(5))
                    .build();
                let mut loader = aws_config::defaults(BehaviorVersion::latest())
                    .timeout_config(timeouts)
                    .retry_config(RetryConfig::standard().with_max_attempts(3));
                let region = settings
                    .region
                    .clone()
                    .or_else(|| settings.target.local.then(|| "us-east-1".to_owned()));
                if let Some(region) = region {
                    loader = loader.region(Region::new(region));
                }
                if let Some(profile) = &settings.profile {
                    loader = loader.profile_name(profile);
                }
                if let Some(endpoint) = &settings.endpoint_url {
                    loader = loader.endpoint_url(endpoint);
                }
                if settings.target.local {
                    // LocalStack takes any key; these are the ones its documentation uses.
                    loader = loader.credentials_provider(Credentials::new(
                        "test",
                        "test",
                        None,
                        None,
                        "recoflow --local",
                    ));
                }
                let sdk = loader.load().await;
                let region = sdk.region().map(ToString::to_string).ok_or_else(|| {
                    CliError::Usage("no AWS region: give --region, RECOFLOW_REGION or AWS_REGION".into())
                })?;
                let provider = sdk
                    .credentials_provider()
                    .ok_or_else(|| CliError::Unavailable("no AWS credentials provider".into()))?;
                Ok(Aws {
                    signer: Signer::new(provider, region),
                    sdk,
                })
            })
            .await
    }

    /// The target stack's CloudFormation outputs (`ApiUrl`, `FormsBucket`, `DataBucket`, ...).
    pub async fn outputs(&self) -> Result<&Outputs, CliError> {
        self.outputs
            .get_or_try_init(|| async {
                let stack = self.settings.target.stack_name().ok_or_else(|| {
                    if self.settings.target.is_set() {
                        CliError::Usage(
                            "this needs the stack's outputs: give --stack NAME or --local as well".into(),
                        )
                    } else {
                        CliError::Usage(NO_TARGET.into())
                    }
                })?;
                let aws = self.aws().await?;
                let endpoint = match &self.settings.endpoint_url {
                    Some(endpoint) => endpoint.clone(),
                    None => std::env::var("AWS_ENDPOINT_URL_CLOUDFORMATION")
                        .or_else(|_| std::env::var("AWS_ENDPOINT_URL"))
                        .unwrap_or_else(|_| {
                            cloudformation::endpoint_for(
                                &aws.sdk.region().map(ToString::to_string).unwrap_or_default(),
                            )
                        }),
                };
                cloudformation::stack_outputs(self.http().await?, &aws.signer, &endpoint, stack).await
            })
            .await
    }

    /// One output of the target stack; its absence names the stack and the output.
    pub async fn output(&self, key: &str) -> Result<String, CliError> {
        let outputs = self.outputs().await?;
        outputs.get(key).cloned().ok_or_else(|| {
            CliError::NotFound(format!(
                "stack {} has no output {key}; is it a recoflow stack?",
                self.settings.target.stack_name().unwrap_or_default()
            ))
        })
    }

    pub async fn api(&self) -> Result<Api<'_>, CliError> {
        if !self.settings.target.is_set() {
            return Err(CliError::Usage(NO_TARGET.into()));
        }
        let base = match &self.settings.target.api_url {
            Some(url) => url.clone(),
            None => self.output("ApiUrl").await?,
        };
        let aws = self.aws().await?;
        Ok(Api {
            base,
            http: self.http().await?,
            signer: &aws.signer,
        })
    }

    pub async fn s3(&self) -> Result<aws_sdk_s3::Client, CliError> {
        let aws = self.aws().await?;
        // LocalStack (any explicit endpoint) serves buckets by path, not by host name.
        let config = aws_sdk_s3::config::Builder::from(&aws.sdk)
            .force_path_style(self.settings.endpoint_url.is_some())
            .build();
        Ok(aws_sdk_s3::Client::from_conf(config))
    }
}
