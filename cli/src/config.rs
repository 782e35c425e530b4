//! Settings: command-line flags, then `RECOFLOW_*` environment variables, then the config
//! file (`~/.config/recoflow/config.toml`, or `$XDG_CONFIG_HOME/recoflow/config.toml`, or the
//! file `--config` / `RECOFLOW_CONFIG` names).
//!
//! Each setting is taken from the first of those that gives it, except the target (which stack
//! or URL to talk to): `--api-url`, `--stack` and `--local` are taken together from the first
//! source naming any of them, so `--stack staging` on the command line is not mixed with an
//! `api_url` from the file.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::cli::GlobalArgs;
use crate::exit::CliError;

/// The config file's keys; anything else is refused so a typo does not go unnoticed.
#[derive(Debug, Default, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub stack: Option<String>,
    pub local: Option<bool>,
    pub api_url: Option<String>,
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub timeout_seconds: Option<u64>,
    pub allow_buckets: Option<Vec<String>>,
    pub allow_image_repositories: Option<Vec<String>>,
}

/// The stack `make demo` and `scripts/deploy-local.sh` deploy.
pub const LOCAL_STACK_NAME: &str = "recoflow";
/// Where LocalStack listens unless `LOCALSTACK_ENDPOINT` or an endpoint setting says.
pub const LOCALSTACK_ENDPOINT: &str = "http://127.0.0.1:4566";
/// Longest wait for one answer of the API: API Gateway gives up at 29 s anyway.
const DEFAULT_TIMEOUT_SECONDS: u64 = 30;

/// Which deployment to talk to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Target {
    /// The API's base URL; without it, the stack's `ApiUrl` output.
    pub api_url: Option<String>,
    pub stack: Option<String>,
    /// LocalStack: its endpoint, its stack and its test credentials.
    pub local: bool,
}

impl Target {
    pub fn is_set(&self) -> bool {
        self.api_url.is_some() || self.stack.is_some() || self.local
    }

    /// The stack whose outputs name the API and the buckets.
    pub fn stack_name(&self) -> Option<&str> {
        match (&self.stack, self.local) {
            (Some(stack), _) => Some(stack),
            (None, true) => Some(LOCAL_STACK_NAME),
            (None, false) => None,
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub target: Target,
    /// AWS endpoint for CloudFormation and S3 (LocalStack); with `local`, defaults to it.
    pub endpoint_url: Option<String>,
    pub region: Option<String>,
    pub profile: Option<String>,
    pub timeout: Duration,
    /// Data buckets forms may read from (`validate`); empty: the target's data bucket.
    pub allow_buckets: Vec<String>,
    /// Repositories container images may come from (`validate`); empty: the target's.
    pub allow_image_repositories: Vec<String>,
}

/// Where the config file is looked for, unless `--config`/`RECOFLOW_CONFIG` says.
pub fn default_config_path(env: &dyn Fn(&str) -> Option<String>) -> Option<PathBuf> {
    if let Some(dir) = env("XDG_CONFIG_HOME").filter(|d| !d.is_empty()) {
        return Some(Path::new(&dir).join("recoflow/config.toml"));
    }
    env("HOME").map(|home| Path::new(&home).join(".config/recoflow/config.toml"))
}

/// Reads the config file. A missing default file is no configuration; a file named
/// explicitly must exist.
pub fn load_config(path: &Path, named_explicitly: bool) -> Result<ConfigFile, CliError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound && !named_explicitly => {
            return Ok(ConfigFile::default())
        }
        Err(err) => {
            return Err(CliError::Usage(format!(
                "cannot read config file {}: {err}",
                path.display()
            )))
        }
    };
    toml::from_str(&text).map_err(|err| {
        let reason = err.message().to_owned();
        let line = err
            .span()
            .map(|span| text[..span.start].matches('\n').count() + 1);
        CliError::Usage(match line {
            Some(line) => format!("config file {} line {line}: {reason}", path.display()),
            None => format!("config file {}: {reason}", path.display()),
        })
    })
}

impl Settings {
    /// Resolves the settings from the three sources, highest first.
    pub fn resolve(
        flags: &GlobalArgs,
        env: &dyn Fn(&str) -> Option<String>,
        file: &ConfigFile,
    ) -> Result<Settings, CliError> {
        let env = |name: &str| env(name).filter(|v| !v.is_empty());
        let env_local = match env("RECOFLOW_LOCAL").as_deref() {
            None => None,
            Some("1" | "true" | "yes") => Some(true),
            Some("0" | "false" | "no") => Some(false),
            Some(other) => {
                return Err(CliError::Usage(format!(
                    "RECOFLOW_LOCAL must be 1/true/yes or 0/false/no, not {other:?}"
                )))
            }
        };
        let from_flags = Target {
            api_url: flags.api_url.clone(),
            stack: flags.stack.clone(),
            local: flags.local,
        };
        let from_env = Target {
            api_url: env("RECOFLOW_API_URL"),
            stack: env("RECOFLOW_STACK"),
            local: env_local.unwrap_or(false),
        };
        let from_file = Target {
            api_url: file.api_url.clone(),
            stack: file.stack.clone(),
            local: file.local.unwrap_or(false),
        };
        let target = [from_flags, from_env, from_file]
            .into_iter()
            .find(Target::is_set)
            .unwrap_or_default();

        let timeout_seconds = match (flags.timeout, env("RECOFLOW_TIMEOUT")) {
            (Some(seconds), _) => seconds,
            (None, Some(text)) => text
                .parse::<u64>()
                .ok()
                .filter(|s| (1..=300).contains(s))
                .ok_or_else(|| {
                    CliError::Usage(format!(
                        "RECOFLOW_TIMEOUT must be whole seconds from 1 to 300, not {text:?}"
                    ))
                })?,
            (None, None) => file.timeout_seconds.unwrap_or(DEFAULT_TIMEOUT_SECONDS),
        };
        if !(1..=300).contains(&timeout_seconds) {
            return Err(CliError::Usage(format!(
                "timeout_seconds must be from 1 to 300, not {timeout_seconds}"
            )));
        }

        let allow_buckets = allow_list(
            &flags.allow_bucket,
            env("RECOFLOW_ALLOW_BUCKETS"),
            &file.allow_buckets,
        );
        let allow_image_repositories = allow_list(
            &flags.allow_image_repository,
            env("RECOFLOW_ALLOW_IMAGE_REPOSITORIES"),
            &file.allow_image_repositories,
        );

        let endpoint_url = flags
            .endpoint_url
            .clone()
            .or_else(|| env("RECOFLOW_ENDPOINT_URL"))
            .or_else(|| file.endpoint_url.clone())
            .or_else(|| {
                target
                    .local
                    .then(|| env("LOCALSTACK_ENDPOINT").unwrap_or_else(|| LOCALSTACK_ENDPOINT.to_owned()))
            });
        Ok(Settings {
            target,
            endpoint_url,
            region: flags
                .region
                .clone()
                .or_else(|| env("RECOFLOW_REGION"))
                .or_else(|| file.region.clone()),
            profile: flags
                .profile
                .clone()
                .or_else(|| env("RECOFLOW_PROFILE"))
                .or_else(|| file.profile.clone()),
            timeout: Duration::from_secs(timeout_seconds),
            allow_buckets,
            allow_image_repositories,
        })
    }
}

/// An allow-list from the first source that gives one: flags (repeated or comma-separated),
/// the environment (comma-separated), the file (a list).
fn allow_list(flags: &[String], env: Option<String>, file: &Option<Vec<String>>) -> Vec<String> {
    if !flags.is_empty() {
        split_list(flags)
    } else if let Some(list) = env {
        split_list(&[list])
    } else {
        split_list(file.as_deref().unwrap_or_default())
    }
}

/// `--allow-bucket a,b --allow-bucket c` → `[a, b, c]`.
fn split_list(values: &[String]) -> Vec<String> {
    values
        .iter()
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    fn resolve(flags: GlobalArgs, env: &[(&str, &str)], file: &str) -> Result<Settings, CliError> {
        let env: HashMap<String, String> = env.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        let file: ConfigFile = toml::from_str(file).unwrap();
        Settings::resolve(&flags, &|name| env.get(name).cloned(), &file)
    }

    const FILE: &str = r#"
        stack = "from-file"
        region = "eu-west-1"
        profile = "file-profile"
        timeout_seconds = 12
        allow_buckets = ["file-bucket"]
        allow_image_repositories = ["file.example/recsys"]
    "#;

    #[test]
    fn the_file_gives_defaults() {
        let settings = resolve(GlobalArgs::default(), &[], FILE).unwrap();
        assert_eq!(settings.target.stack.as_deref(), Some("from-file"));
        assert_eq!(settings.region.as_deref(), Some("eu-west-1"));
        assert_eq!(settings.profile.as_deref(), Some("file-profile"));
        assert_eq!(settings.timeout, Duration::from_secs(12));
        assert_eq!(settings.allow_buckets, ["file-bucket"]);
        assert_eq!(settings.allow_image_repositories, ["file.example/recsys"]);
    }

    #[test]
    fn the_environment_overrides_the_file() {
        let env = [
            ("RECOFLOW_STACK", "from-env"),
            ("RECOFLOW_REGION", "ap-northeast-1"),
            ("RECOFLOW_TIMEOUT", "7"),
            ("RECOFLOW_ALLOW_BUCKETS", "a, b"),
            ("RECOFLOW_ALLOW_IMAGE_REPOSITORIES", "env.example/recsys"),
        ];
        let settings = resolve(GlobalArgs::default(), &env, FILE).unwrap();
        assert_eq!(settings.target.stack.as_deref(), Some("from-env"));
        assert_eq!(settings.region.as_deref(), Some("ap-northeast-1"));
        assert_eq!(settings.profile.as_deref(), Some("file-profile"));
        assert_eq!(settings.timeout, Duration::from_secs(7));
        assert_eq!(settings.allow_buckets, ["a", "b"]);
        assert_eq!(settings.allow_image_repositories, ["env.example/recsys"]);
    }

    #[test]
    fn flags_override_the_environment_and_the_file() {
        let flags = GlobalArgs {
            stack: Some("from-flag".into()),
            region: Some("us-west-2".into()),
            timeout: Some(3),
            allow_bucket: vec!["x,y".into(), "z".into()],
            allow_image_repository: vec!["flag.example/recsys".into()],
            ..GlobalArgs::default()
        };
        let env = [
            ("RECOFLOW_STACK", "from-env"),
            ("RECOFLOW_REGION", "ap-northeast-1"),
            ("RECOFLOW_TIMEOUT", "7"),
            ("RECOFLOW_ALLOW_IMAGE_REPOSITORIES", "env.example/recsys"),
        ];
        let settings = resolve(flags, &env, FILE).unwrap();
        assert_eq!(settings.target.stack.as_deref(), Some("from-flag"));
        assert_eq!(settings.region.as_deref(), Some("us-west-2"));
        assert_eq!(settings.timeout, Duration::from_secs(3));
        assert_eq!(settings.allow_buckets, ["x", "y", "z"]);
        assert_eq!(settings.allow_image_repositories, ["flag.example/recsys"]);
    }

    #[test]
    fn the_target_comes_whole_from_one_source() {
        // --local on the command line is the local stack, not the file's stack on LocalStack.
        let flags = GlobalArgs {
            local: true,
            ..GlobalArgs::default()
        };
        let settings = resolve(flags, &[("RECOFLOW_API_URL", "https://env.example/Prod")], FILE).unwrap();
        assert_eq!(
            settings.target,
            Target {
                api_url: None,
                stack: None,
                local: true
            }
        );
        assert_eq!(settings.target.stack_name(), Some(LOCAL_STACK_NAME));
        assert_eq!(settings.endpoint_url.as_deref(), Some(LOCALSTACK_ENDPOINT));
        let flags = GlobalArgs {
            local: true,
            ..GlobalArgs::default()
        };
        let settings = resolve(
            flags.clone(),
            &[("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4720")],
            "",
        )
        .unwrap();
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://127.0.0.1:4720"));
        let env = [
            ("LOCALSTACK_ENDPOINT", "http://127.0.0.1:4720"),
            ("RECOFLOW_ENDPOINT_URL", "http://127.0.0.1:9"),
        ];
        let settings = resolve(flags, &env, "").unwrap();
        assert_eq!(settings.endpoint_url.as_deref(), Some("http://127.0.0.1:9"));
        let settings = resolve(
            GlobalArgs::default(),
            &[("RECOFLOW_API_URL", "https://env.example/Prod")],
            FILE,
        )
        .unwrap();
        assert_eq!(
            settings.target.api_url.as_deref(),
            Some("https://env.example/Prod")
        );
        assert_eq!(settings.target.stack, None);
        let settings = resolve(GlobalArgs::default(), &[("RECOFLOW_LOCAL", "1")], "").unwrap();
        assert!(settings.target.local);
        assert_eq!(
            resolve(GlobalArgs::default(), &[], "").unwrap().target,
            Target::default()
        );
    }

    #[test]
    fn bad_values_are_usage_errors_naming_the_setting() {
        let err = resolve(GlobalArgs::default(), &[("RECOFLOW_TIMEOUT", "soon")], "").unwrap_err();
        assert!(err.to_string().contains("RECOFLOW_TIMEOUT"), "{err}");
        let err = resolve(GlobalArgs::default(), &[("RECOFLOW_LOCAL", "maybe")], "").unwrap_err();
        assert!(err.to_string().contains("RECOFLOW_LOCAL"), "{err}");
        let err = resolve(GlobalArgs::default(), &[], "timeout_seconds = 0").unwrap_err();
        assert_eq!(err.exit().code(), 2);
    }

    #[test]
    fn the_config_file_refuses_unknown_keys_with_the_line() {
        let dir = std::env::temp_dir().join(format!("recoflow-cli-config-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("config.toml");
        std::fs::write(&path, "stack = \"s\"\n\nregoin = \"eu-west-1\"\n").unwrap();
        let err = load_config(&path, false).unwrap_err().to_string();
        assert!(err.contains("line 3") && err.contains("regoin"), "{err}");
        std::fs::write(&path, "stack = \"s\"\nlocal = true\n").unwrap();
        let file = load_config(&path, true).unwrap();
        assert_eq!(file.stack.as_deref(), Some("s"));
        assert_eq!(file.local, Some(true));
        assert_eq!(
            load_config(&dir.join("none.toml"), false).unwrap(),
            ConfigFile::default()
        );
        assert_eq!(
            load_config(&dir.join("none.toml"), true)
                .unwrap_err()
                .exit()
                .code(),
            2
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn the_default_path_follows_xdg() {
        let env = |name: &str| match name {
            "HOME" => Some("/home/ana".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_config_path(&env),
            Some(PathBuf::from("/home/ana/.config/recoflow/config.toml"))
        );
        let xdg = |name: &str| match name {
            "XDG_CONFIG_HOME" => Some("/cfg".to_owned()),
            _ => None,
        };
        assert_eq!(
            default_config_path(&xdg),
            Some(PathBuf::from("/cfg/recoflow/config.toml"))
        );
    }
}
