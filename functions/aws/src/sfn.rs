//! Step Functions executions of the job state machine, named by job id.

use async_trait::async_trait;
use aws_sdk_sfn::Client;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::JobId;
use recoflow_core::ports::{Callback, ExecutionLookup, ExecutionStart, Executions, TaskCallbacks};

use crate::service_error;

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

/// Step Functions keeps `cause` to 32768 characters.
const MAX_CAUSE_CHARS: usize = 32_768;

#[async_trait]
impl Executions for SfnExecutions {
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

    async fn stop_execution(&self, execution_arn: &str, cause: &str) -> Result<(), ServiceError> {
        let cause: String = cause.chars().take(MAX_CAUSE_CHARS).collect();
        match self
            .client
            .stop_execution()
            .execution_arn(execution_arn)
            .error("JobCancelled")
            .cause(cause)
            .send()
            .await
        {
            Ok(_) => Ok(()),
            // Stopping an execution that has ended changes nothing; on AWS that is a success.
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(())
            }
            Err(err) => Err(service_error("Step Functions", "StopExecution", &err)),
        }
    }
}

/// Looking executions up by ARN (what the sweep needs; no state machine to name).
pub struct SfnExecutionLookup {
    client: Client,
}

impl SfnExecutionLookup {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl ExecutionLookup for SfnExecutionLookup {
    async fn execution_status(&self, execution_arn: &str) -> Result<Option<String>, ServiceError> {
        match self
            .client
            .describe_execution()
            .execution_arn(execution_arn)
            .send()
            .await
        {
            Ok(output) => Ok(Some(output.status.as_str().to_owned())),
            Err(err)
                if err
                    .as_service_error()
                    .is_some_and(|e| e.is_execution_does_not_exist()) =>
            {
                Ok(None)
            }
            Err(err) => Err(service_error("Step Functions", "DescribeExecution", &err)),
        }
    }
}

/// Answering the task tokens of callback states (`WaitForQuota`): no state machine to name, the
/// token says which task it is.
pub struct SfnTaskCallbacks {
    client: Client,
}

impl SfnTaskCallbacks {
    pub fn new(client: Client) -> Self {
        Self { client }
    }
}

#[async_trait]
impl TaskCallbacks for SfnTaskCallbacks {
    async fn succeed(&self, token: &str, output: &str) -> Result<Callback, ServiceError> {
        match self
            .client
            .send_task_success()
            .task_token(token)
            .output(output)
            .send()
            .await
        {
            Ok(_) => Ok(Callback::Delivered),
            // The state stopped waiting (timed out, its execution ended, answered already).
            Err(err)
                if err.as_service_error().is_some_and(|e| {
                    e.is_invalid_token() || e.is_task_does_not_exist() || e.is_task_timed_out()
                }) =>
            {
                Ok(Callback::TaskGone)
            }
            Err(err) => Err(service_error("Step Functions", "SendTaskSuccess", &err)),
        }
    }
}
