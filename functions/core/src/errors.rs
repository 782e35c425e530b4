//! Error names shared by every function. The state machine's Retry and Catch match these
//! `error_type` strings, so they are stable and never a Rust type name.

use lambda_runtime::Diagnostic;

/// A call to an AWS service that did not succeed.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ServiceError {
    /// The service asked us to slow down; worth retrying later.
    #[error("{service} throttled {operation}: {message}")]
    Throttled {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
    #[error("{service} {operation} failed: {message}")]
    Failed {
        service: &'static str,
        operation: &'static str,
        message: String,
    },
}

impl ServiceError {
    pub fn error_type(&self) -> &'static str {
        match self {
            ServiceError::Throttled { .. } => "ServiceThrottled",
            ServiceError::Failed { .. } => "ServiceUnavailable",
        }
    }
}

/// Builds the Lambda error payload with a stable name.
pub fn diagnostic(error_type: &str, message: impl ToString) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.to_string(),
    }
}

impl From<ServiceError> for Diagnostic {
    fn from(err: ServiceError) -> Self {
        diagnostic(err.error_type(), &err)
    }
}
