//! Lambda `api`: the REST API (API Gateway proxy integration).

use lambda_http::{run, service_fn, Error, Request};

use api::config::ApiConfig;
use api::handler::handle;
use api::live::LivePorts;

#[tokio::main]
async fn main() -> Result<(), Error> {
    let (config, sdk) = recoflow_aws::lambda::start::<ApiConfig>().await?;
    let ports = LivePorts::new(&config, &sdk);
    run(service_fn(|request: Request| async {
        Ok::<_, Error>(handle(&ports, request).await)
    }))
    .await
}
