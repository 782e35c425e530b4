//! Reading configuration from the environment once, at start-up: a missing or malformed
//! variable fails the function's init with its name.

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: environment variable {0} is not set")]
    Missing(&'static str),
    #[error("configuration: environment variable {name} is {value:?}, not {expected}")]
    Malformed {
        name: &'static str,
        value: String,
        expected: &'static str,
    },
}

pub fn required_env(name: &'static str) -> Result<String, ConfigError> {
    match std::env::var(name) {
        Ok(value) if !value.trim().is_empty() => Ok(value),
        _ => Err(ConfigError::Missing(name)),
    }
}

/// A whole number of (e.g.) seconds.
pub fn required_u32(name: &'static str) -> Result<u32, ConfigError> {
    let value = required_env(name)?;
    value.trim().parse().map_err(|_| ConfigError::Malformed {
        name,
        value,
        expected: "a whole number",
    })
}
