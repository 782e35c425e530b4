//! Reading configuration from the environment once, at start-up.

/// A required variable is missing or empty.
#[derive(Debug, thiserror::Error)]
#[error("configuration: environment variable {0} is not set")]
pub struct MissingVariable(pub &'static str);

pub fn required_env(name: &'static str) -> Result<String, MissingVariable> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(MissingVariable(name)),
    }
}
