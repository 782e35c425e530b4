//! Lambda runtime glue shared by every function: JSON logs and error payloads.

use lambda_runtime::Diagnostic;
use recoflow_core::errors::{ErrorName, NamedError};

/// Logs: JSON lines through `tracing`. The runtime opens a span per invocation with the Lambda
/// request id, handlers one with the job id; every line lists the fields of the spans it is in
/// (`spans`), so both are on every line of a job's work.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RUST_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .json()
        .with_env_filter(filter)
        .with_current_span(false)
        .with_span_list(true)
        .with_target(false)
        .init();
}

/// The Lambda error payload: the stable error name (what Step Functions' Retry and Catch
/// match) and a message for people.
pub fn diagnostic(name: ErrorName, message: impl ToString) -> Diagnostic {
    Diagnostic {
        error_type: name.as_str().to_owned(),
        error_message: message.to_string(),
    }
}

/// The payload of any error that knows its name.
pub fn named_diagnostic<E: NamedError>(err: &E) -> Diagnostic {
    diagnostic(err.error_name(), err)
}

/// Real time, for retry budgets.
pub struct SystemClock;

#[async_trait::async_trait]
impl recoflow_core::ports::Clock for SystemClock {
    fn now(&self) -> std::time::Instant {
        std::time::Instant::now()
    }

    async fn sleep(&self, duration: std::time::Duration) {
        tokio::time::sleep(duration).await;
    }
}
