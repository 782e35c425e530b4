//! Configuration: each function reads its environment once, at start-up, into one typed struct
//! (fields named like the variables, lower case); a missing or malformed variable fails the
//! function's init with the variable's name.

use serde::de::DeserializeOwned;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("configuration: environment variable {0} is not set")]
    Missing(String),
    #[error("configuration: {0}")]
    Malformed(String),
}

/// Reads `T` from the process environment.
pub fn from_env<T: DeserializeOwned>() -> Result<T, ConfigError> {
    from_iter(std::env::vars())
}

/// Reads `T` from these variables (the environment, or a test's own).
pub fn from_iter<T: DeserializeOwned>(
    vars: impl IntoIterator<Item = (String, String)>,
) -> Result<T, ConfigError> {
    // A variable set to blanks is as good as unset.
    let vars = vars.into_iter().filter(|(_, value)| !value.trim().is_empty());
    envy::from_iter(vars).map_err(|err| match err {
        envy::Error::MissingValue(field) => ConfigError::Missing(field.to_ascii_uppercase()),
        envy::Error::Custom(message) => ConfigError::Malformed(message),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize, PartialEq)]
    struct Settings {
        jobs_table: String,
        poll_seconds: u32,
        #[serde(default)]
        log_level: Option<String>,
    }

    fn vars(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn a_typed_struct_comes_from_the_variables() {
        let settings: Settings = from_iter(vars(&[
            ("JOBS_TABLE", "jobs"),
            ("POLL_SECONDS", "5"),
            ("OTHER", "x"),
        ]))
        .unwrap();
        assert_eq!(
            settings,
            Settings {
                jobs_table: "jobs".into(),
                poll_seconds: 5,
                log_level: None
            }
        );
    }

    #[test]
    fn missing_and_malformed_variables_are_named() {
        let missing =
            from_iter::<Settings>(vars(&[("POLL_SECONDS", "5"), ("JOBS_TABLE", "  ")])).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "configuration: environment variable JOBS_TABLE is not set"
        );
        let malformed =
            from_iter::<Settings>(vars(&[("JOBS_TABLE", "j"), ("POLL_SECONDS", "soon")])).unwrap_err();
        assert!(malformed.to_string().contains("POLL_SECONDS"), "{malformed}");
    }
}
