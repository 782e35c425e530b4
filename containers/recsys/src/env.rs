//! Environment snapshot and the SageMaker path conventions.
//!
//! The environment is read once into [`Env`] so tests can pass their own variables instead
//! of mutating the (process-global, test-parallel) real environment.

use std::collections::BTreeMap;
use std::path::PathBuf;

/// Maps the container's `/opt/ml` somewhere else, e.g. a per-job temp dir of a local emulator.
pub const OPT_ML_VAR: &str = "RECSYS_OPT_ML";

#[derive(Debug, Clone, Default)]
pub struct Env {
    vars: BTreeMap<String, String>,
}

impl Env {
    pub fn from_process() -> Self {
        Env {
            vars: std::env::vars().collect(),
        }
    }

    pub fn from_pairs<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Self {
        Env {
            vars: pairs
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        }
    }

    /// A set, non-empty variable (empty counts as unset, as shells often export `X=`).
    pub fn get(&self, name: &str) -> Option<&str> {
        self.vars.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn path(&self, name: &str) -> Option<PathBuf> {
        self.get(name).map(PathBuf::from)
    }

    /// `/opt/ml`, or `$RECSYS_OPT_ML`.
    pub fn opt_ml(&self) -> PathBuf {
        self.path(OPT_ML_VAR).unwrap_or_else(|| PathBuf::from("/opt/ml"))
    }

    /// `$SM_OUTPUT_DIR` or `<opt_ml>/output`: where `failure` (training) and `message`
    /// (processing) go.
    pub fn output_dir(&self) -> PathBuf {
        self.path("SM_OUTPUT_DIR")
            .unwrap_or_else(|| self.opt_ml().join("output"))
    }
}

/// Paths of a training job, resolved the way the SageMaker training toolkit names them.
#[derive(Debug, Clone)]
pub struct TrainPaths {
    pub interactions: PathBuf,
    /// `None` when the optional channel is not there at all.
    pub users: Option<PathBuf>,
    pub items: Option<PathBuf>,
    pub hyperparameters: PathBuf,
    pub model_dir: PathBuf,
    pub output_data_dir: PathBuf,
    pub failure_file: PathBuf,
}

impl TrainPaths {
    pub fn resolve(env: &Env) -> Self {
        let base = env.opt_ml();
        let channel = |name: &str| {
            env.path(&format!("SM_CHANNEL_{}", name.to_ascii_uppercase()))
                .unwrap_or_else(|| base.join("input/data").join(name))
        };
        let optional = |name: &str| Some(channel(name)).filter(|p| p.exists());
        let config_dir = env
            .path("SM_INPUT_CONFIG_DIR")
            .unwrap_or_else(|| base.join("input/config"));
        TrainPaths {
            interactions: channel("interactions"),
            users: optional("users"),
            items: optional("items"),
            hyperparameters: env
                .path("RECSYS_HYPERPARAMETERS")
                .unwrap_or_else(|| config_dir.join("hyperparameters.json")),
            model_dir: env.path("SM_MODEL_DIR").unwrap_or_else(|| base.join("model")),
            output_data_dir: env
                .path("SM_OUTPUT_DATA_DIR")
                .unwrap_or_else(|| base.join("output/data")),
            failure_file: env.output_dir().join("failure"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_follow_sagemaker_layout() {
        let p = TrainPaths::resolve(&Env::default());
        assert_eq!(p.interactions, PathBuf::from("/opt/ml/input/data/interactions"));
        assert_eq!(
            p.hyperparameters,
            PathBuf::from("/opt/ml/input/config/hyperparameters.json")
        );
        assert_eq!(p.model_dir, PathBuf::from("/opt/ml/model"));
        assert_eq!(p.output_data_dir, PathBuf::from("/opt/ml/output/data"));
        assert_eq!(p.failure_file, PathBuf::from("/opt/ml/output/failure"));
    }

    #[test]
    fn base_and_specific_overrides() {
        let env = Env::from_pairs([
            (OPT_ML_VAR, "/tmp/job1"),
            ("SM_CHANNEL_INTERACTIONS", "/data/i"),
            ("SM_MODEL_DIR", "/m"),
            ("SM_OUTPUT_DIR", ""),
        ]);
        let p = TrainPaths::resolve(&env);
        assert_eq!(p.interactions, PathBuf::from("/data/i"));
        assert_eq!(p.model_dir, PathBuf::from("/m"));
        assert_eq!(
            p.hyperparameters,
            PathBuf::from("/tmp/job1/input/config/hyperparameters.json")
        );
        assert_eq!(p.failure_file, PathBuf::from("/tmp/job1/output/failure"));
    }
}
