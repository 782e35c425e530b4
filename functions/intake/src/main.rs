//! Lambda `intake`: S3 ObjectCreated under submissions/ in the forms bucket.

mod handler;

use lambda_runtime::{run, service_fn, Error, LambdaEvent};
use recoflow_aws::{load_sdk_config, DynamoJobStore, S3Objects, SfnExecutions};
use recoflow_core::config::required_env;
use recoflow_core::validation::ValidationRules;

use handler::{handle_event, IntakeDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let state_machine_arn = required_env("STATE_MACHINE_ARN")?;
    let allowed_buckets = required_env("ALLOWED_DATA_BUCKETS")?;

    let sdk = load_sdk_config().await;
    let deps = IntakeDeps {
        jobs: DynamoJobStore::new(recoflow_aws::clients::DynamoDb::new(&sdk), jobs_table),
        executions: SfnExecutions::new(recoflow_aws::clients::StepFunctions::new(&sdk), state_machine_arn),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        rules: ValidationRules::from_allow_list(&allowed_buckets),
    };
    run(service_fn(|event: LambdaEvent<_>| {
        handle_event(&deps, event.payload)
    }))
    .await
}
