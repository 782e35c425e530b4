//! The job form, version 1: what a business user submits.
//!
//! The published contract is `schemas/job-form.v1.schema.json`; these types mirror it and are
//! only ever built from a form that passed [`crate::validation::validate_form`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest form accepted, checked before a byte of it is parsed.
pub const MAX_FORM_BYTES: usize = 256 * 1024;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct JobForm {
    pub schema_version: u32,
    pub job_name: String,
    pub submitted_by: String,
    pub result_set: String,
    pub backend: Backend,
    pub dataset: Dataset,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    #[serde(default = "default_num_results")]
    pub num_results: u32,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub personalize: Option<PersonalizeSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub container: Option<ContainerSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclude_items: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quality_gate: Option<crate::quality::QualityGate>,
    /// A result set with no new published version for this long gets one Slack alert.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expect_refresh_hours: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notify: Option<NotifySettings>,
}

fn default_num_results() -> u32 {
    25
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Backend {
    Personalize,
    Container,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dataset {
    pub interactions: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<String>,
}

impl Dataset {
    /// (form field, S3 URI) of every dataset file the form names.
    pub fn files(&self) -> Vec<(&'static str, &str)> {
        let mut files = vec![("dataset.interactions", self.interactions.as_str())];
        if let Some(users) = &self.users {
            files.push(("dataset.users", users));
        }
        if let Some(items) = &self.items {
            files.push(("dataset.items", items));
        }
        files
    }
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Segment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gender: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age: Option<AgeRange>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgeRange {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PersonalizeSettings {
    #[serde(default = "default_recipe")]
    pub recipe: String,
    #[serde(default)]
    pub perform_hpo: bool,
    #[serde(default)]
    pub training_mode: TrainingMode,
}

fn default_recipe() -> String {
    "aws-user-personalization".to_owned()
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum TrainingMode {
    #[default]
    Full,
    Update,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ContainerSettings {
    pub training_image: String,
    pub scoring_image: String,
    pub instance_type: String,
    #[serde(default = "default_instance_count")]
    pub instance_count: u32,
    #[serde(default)]
    pub hyperparameters: BTreeMap<String, String>,
    #[serde(default = "default_max_runtime_seconds")]
    pub max_runtime_seconds: u32,
    /// Training and scoring run without network access unless the form turns it off, saying why.
    #[serde(default = "default_network_isolation")]
    pub network_isolation: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_isolation_reason: Option<String>,
}

fn default_network_isolation() -> bool {
    true
}

fn default_instance_count() -> u32 {
    1
}

fn default_max_runtime_seconds() -> u32 {
    86_400
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NotifySettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slack_channel: Option<String>,
    #[serde(default)]
    pub on_success: bool,
}
