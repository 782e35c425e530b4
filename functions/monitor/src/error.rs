//! What the check can fail with, and the names its invokers see (a failed scheduled check is
//! retried by Lambda's own asynchronous retries; the next day's check runs regardless).

use recoflow_core::errors::{ErrorName, NamedError, ServiceError};

#[derive(Debug, thiserror::Error)]
pub enum MonitorError {
    #[error("day: {0:?} is not a date like 2026-12-01")]
    InvalidDay(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for MonitorError {
    fn error_name(&self) -> ErrorName {
        match self {
            MonitorError::InvalidDay(_) => ErrorName::ConfigurationInvalid,
            MonitorError::Service(err) => err.error_name(),
        }
    }
}
