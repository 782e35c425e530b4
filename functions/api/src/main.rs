//! Lambda `api`: the REST API (API Gateway proxy integration).

mod handler;

use lambda_http::{run, service_fn, Error, Request};
use recoflow_core::aws::{load_sdk_config, DynamoJobStore, SfnExecutions};
use recoflow_core::config::required_env;
use recoflow_core::validation::ValidationRules;

use handler::{handle, ApiDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_core::telemetry::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let state_machine_arn = required_env("STATE_MACHINE_ARN")?;
    let allowed_buckets = required_env("ALLOWED_DATA_BUCKETS")?;

    let sdk = load_sdk_config().await;
    let deps = ApiDeps {
        jobs: DynamoJobStore::new(aws_sdk_dynamodb::Client::new(&sdk), jobs_table),
        executions: SfnExecutions::new(aws_sdk_sfn::Client::new(&sdk), state_machine_arn),
        rules: ValidationRules::from_allow_list(&allowed_buckets),
    };
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(handle(&deps, request).await)
    }))
    .await
}
