//! The delayed checks of data-driven triggers: executions of the trigger-check state machine
//! (an `SfnExecutions` made with its ARN), named by the S3 object version that started them.

use async_trait::async_trait;
use recoflow_core::errors::ServiceError;
use recoflow_core::job::JobId;
use recoflow_core::ports::{ExecutionStart, Executions};
use recoflow_core::trigger::ports::{CheckStart, TriggerChecks};

use crate::SfnExecutions;

#[async_trait]
impl TriggerChecks for SfnExecutions {
    async fn start_check(&self, name: &str, input: &str) -> Result<CheckStart, ServiceError> {
        // Check names keep the rule of job ids, which is Step Functions' rule for names.
        let name = JobId::parse(name).ok_or_else(|| ServiceError::Failed {
            service: "Step Functions",
            operation: "StartExecution",
            message: format!("{name:?} is not an execution name"),
        })?;
        Ok(match self.start_execution(&name, input).await? {
            ExecutionStart::Started { .. } => CheckStart::Started,
            ExecutionStart::AlreadyExists => CheckStart::AlreadyExists,
        })
    }
}
