//! Lambda `api`: the REST API (API Gateway proxy integration).

use lambda_http::{run, service_fn, Error, Request};
use std::time::Duration;

use recoflow_aws::clients::{DynamoDb, Ssm, StepFunctions};
use recoflow_aws::{
    load_sdk_config, DynamoJobStore, DynamoRecommendations, DynamoSlotStore, S3Objects, SfnExecutions,
    SsmSecret,
};
use recoflow_core::config::required_env;
use recoflow_core::validation::ValidationRules;

use api::handler::{handle, ApiDeps};

#[tokio::main]
async fn main() -> Result<(), Error> {
    recoflow_aws::lambda::init_logging();
    let jobs_table = required_env("JOBS_TABLE")?;
    let quota_table = required_env("QUOTA_TABLE")?;
    let recommendations_table = required_env("RECOMMENDATIONS_TABLE")?;
    let data_bucket = required_env("DATA_BUCKET")?;
    let ui_token_parameter = required_env("UI_TOKEN_PARAMETER")?;
    let state_machine_arn = required_env("STATE_MACHINE_ARN")?;
    let allowed_buckets = required_env("ALLOWED_DATA_BUCKETS")?;

    let sdk = load_sdk_config().await;
    let dynamodb = DynamoDb::new(&sdk);
    let deps = ApiDeps {
        jobs: DynamoJobStore::new(dynamodb.clone(), jobs_table),
        executions: SfnExecutions::new(StepFunctions::new(&sdk), state_machine_arn),
        slots: DynamoSlotStore::new(dynamodb.clone(), quota_table),
        // Reads only: one BatchGetItem at a time per request.
        lists: DynamoRecommendations::new(dynamodb, recommendations_table, 1),
        pointers: api::recommendations::PointerCache::default(),
        objects: S3Objects::new(S3Objects::client_for(&sdk)),
        data_bucket,
        // A rotated token is accepted within this time.
        ui_token: SsmSecret::new(Ssm::new(&sdk), ui_token_parameter, Duration::from_secs(30)),
        rules: ValidationRules::from_allow_list(&allowed_buckets),
    };
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(handle(&deps, request).await)
    }))
    .await
}
