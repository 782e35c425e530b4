//! Lambda runtime glue shared by every function: start-up (logs, configuration, SDK config)
//! and the runtime loop that turns a handler's named errors into Lambda error payloads.

use std::future::Future;

use aws_config::SdkConfig;
use lambda_runtime::{service_fn, Diagnostic, LambdaEvent};
use recoflow_core::config::{from_env, ConfigError};
use recoflow_core::errors::{ErrorName, NamedError};
use serde::de::DeserializeOwned;
use serde::Serialize;

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

/// A function's start: logging, its configuration `C` read once from the environment (a
/// missing or malformed variable fails the init with its name), and the SDK configuration its
/// clients are built from, once.
pub async fn start<C: DeserializeOwned>() -> Result<(C, SdkConfig), ConfigError> {
    init_logging();
    let config = from_env()?;
    Ok((config, crate::load_sdk_config().await))
}

/// Serves a handler of typed events: each invocation's payload goes to `handler`; an error
/// answers Step Functions with its stable name (what Retry and Catch match).
pub async fn serve<E, T, Er, F, Fut>(handler: F) -> Result<(), lambda_runtime::Error>
where
    E: DeserializeOwned + Send,
    T: Serialize,
    Er: NamedError,
    F: Fn(E) -> Fut,
    Fut: Future<Output = Result<T, Er>>,
{
    lambda_runtime::run(service_fn(|event: LambdaEvent<E>| {
        let answer = handler(event.payload);
        async move { answer.await.map_err(|err| named_diagnostic(&err)) }
    }))
    .await
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
