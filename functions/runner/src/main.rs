//! Lambda `runner`: the phase steps of statemachines/job.asl.json (`AcquireQuota`, `Advance`,
//! `ReleaseQuota`) and the clean-up of failed, cancelled or stopped jobs.

mod advance;
mod handler;
mod plan;
#[cfg(test)]
mod tests;

use std::time::Duration;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::clients::{DynamoDb, Personalize, SageMaker, Ssm};
use recoflow_aws::{
    load_sdk_config, DynamoJobStore, DynamoSlotStore, PersonalizeService, SageMakerService, SsmQuotaLimits,
};
use recoflow_core::config::{required_env, required_u32};
use recoflow_core::task::RunnerTask;

use handler::{handle, RunnerDeps, RunnerSettings};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let quota_table = required_env("QUOTA_TABLE")?;
    let limits_parameter = required_env("QUOTA_LIMITS_PARAMETER")?;
    // How long limits read from SSM are trusted before being read again.
    let limits_max_age = Duration::from_secs(required_u32("QUOTA_LIMITS_CACHE_SECONDS")?.into());
    let settings = RunnerSettings {
        results_bucket: required_env("RESULTS_BUCKET")?,
        poll_seconds: required_u32("POLL_SECONDS")?,
        lease_seconds: required_u32("SLOT_LEASE_SECONDS")?,
        phase_timeout_seconds: required_u32("PHASE_TIMEOUT_SECONDS")?,
        max_attempts: required_u32("MAX_LAUNCH_ATTEMPTS")?,
        relaunch_base_seconds: required_u32("RELAUNCH_BASE_SECONDS")?,
    };
    let sagemaker_role = required_env("SAGEMAKER_ROLE_ARN")?;
    let personalize_role = required_env("PERSONALIZE_ROLE_ARN")?;
    let personalize_arn_prefix = required_env("PERSONALIZE_ARN_PREFIX")?;

    let sdk = load_sdk_config().await;
    let dynamodb = DynamoDb::new(&sdk);
    let deps = RunnerDeps {
        jobs: DynamoJobStore::new(dynamodb.clone(), jobs_table),
        slots: DynamoSlotStore::new(dynamodb, quota_table),
        limits: SsmQuotaLimits::new(Ssm::new(&sdk), limits_parameter, limits_max_age),
        sagemaker: SageMakerService::new(SageMaker::new(&sdk), sagemaker_role),
        personalize: PersonalizeService::new(
            Personalize::new(&sdk),
            personalize_role,
            personalize_arn_prefix,
        ),
        settings,
    };
    run(service_fn(|event: LambdaEvent<RunnerTask>| {
        handle(&deps, event.payload)
    }))
    .await
}
