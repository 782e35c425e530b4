//! Lambda `runner`: the phase steps of statemachines/job.asl.json (`AcquireQuota`,
//! `WaitForQuota`, `Advance`, `ReleaseQuota`), `Cleanup` on the failure path, the clean-up of
//! executions stopped or timed out from outside (EventBridge), and the periodic sweep of jobs
//! left running.

use recoflow_aws::clients::{DynamoDb, Personalize, SageMaker, Ssm, StepFunctions};
use recoflow_aws::lambda::{serve, start};
use recoflow_aws::{
    DynamoJobStore, DynamoSlotStore, PersonalizeService, SageMakerService, SfnExecutionLookup,
    SfnTaskCallbacks, SsmQuotaLimits,
};
use recoflow_core::task::RunnerTask;
use runner::config::RunnerConfig;
use runner::handler::handle;
use runner::live::LiveRunnerPorts;

#[tokio::main]
async fn main() -> Result<(), lambda_runtime::Error> {
    let (config, sdk) = start::<RunnerConfig>().await?;
    let dynamodb = DynamoDb::new(&sdk);
    let step_functions = StepFunctions::new(&sdk);
    let ports = LiveRunnerPorts {
        jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
        slots: DynamoSlotStore::new(dynamodb, &config.quota_table),
        limits: SsmQuotaLimits::new(
            Ssm::new(&sdk),
            &config.quota_limits_parameter,
            config.limits_max_age(),
        ),
        sagemaker: SageMakerService::new(SageMaker::new(&sdk), &config.sagemaker_role_arn),
        personalize: PersonalizeService::new(
            Personalize::new(&sdk),
            &config.personalize_role_arn,
            &config.personalize_arn_prefix,
        ),
        executions: SfnExecutionLookup::new(step_functions.clone()),
        callbacks: SfnTaskCallbacks::new(step_functions),
        settings: config.settings(),
    };
    serve(|task: RunnerTask| handle(&ports, task)).await
}
