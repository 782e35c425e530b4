use async_trait::async_trait;
use aws_sdk_sfn::Client;

use super::service_error;
use crate::errors::ServiceError;
use crate::job::JobId;
use crate::ports::{ExecutionStart, ExecutionStarter};

pub struct SfnExecutions {
    client: Client,
    state_machine_arn: String,
}

impl SfnExecutions {
    pub fn new(client: Client, state_machine_arn: impl Into<String>) -> Self {
        Self {
            client,
            state_machine_arn: state_machine_arn.into(),
        }
    }
}

#[async_trait]
impl ExecutionStarter for SfnExecutions {
    async fn start_execution(&self, name: &JobId, input: &str) -> Result<ExecutionStart, ServiceError> {
        let result = self
            .client
            .start_execution()
            .state_machine_arn(&self.state_machine_arn)
            .name(name.as_str())
            .input(input)
            .send()
            .await;
        match result {
            Ok(output) => Ok(ExecutionStart::Started {
                execution_arn: output.execution_arn,
            }),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_already_exists()) =>
            {
                Ok(ExecutionStart::AlreadyExists)
            }
            Err(err) => Err(service_error("Step Functions", "StartExecution", &err)),
        }
    }
}
