//! Placements: how lists are shown at one place of an app, declared as data.
//!
//! The published contract is `schemas/placement.v1.schema.json`; these types mirror it and are
//! only ever built from a document that passed [`validation::validate_placement`]. What is
//! served to whom is decided in [`choice`] (rules, A/B assignment) and [`interleaving`]
//! (team draft); the answer's `recommendation_id` is made and checked in
//! [`recommendation_id`].

pub mod choice;
pub mod interleaving;
pub mod recommendation_id;
pub mod validation;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// Largest placement document accepted, checked before a byte of it is parsed.
pub const MAX_PLACEMENT_BYTES: usize = 64 * 1024;

/// The arm of answers served by the placement's `result_set` (no rule, no experiment).
pub const DEFAULT_ARM: &str = "default";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Placement {
    pub schema_version: u32,
    pub placement: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub result_set: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub rules: Vec<Rule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub experiment: Option<Experiment>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub fill: Vec<String>,
    #[serde(default = "default_n")]
    pub n: u32,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude_items: Vec<String>,
    #[serde(default)]
    pub monitoring: Monitoring,
}

fn default_n() -> u32 {
    10
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    pub when: Condition,
    pub result_set: String,
}

/// Every part given must hold.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Condition {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<UserKind>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeCondition>,
}

/// Whether the user has a list of their own in the current version of the result set they
/// would be served without the rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserKind {
    New,
    Existing,
}

/// One attribute's condition: one of the values `in` (ignoring case), and/or a number range.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AttributeCondition {
    #[serde(default, rename = "in", skip_serializing_if = "Option::is_none")]
    pub one_of: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Experiment {
    #[serde(rename = "type")]
    pub kind: ExperimentKind,
    pub arms: Vec<Arm>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub salt: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExperimentKind {
    Ab,
    Interleaving,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Arm {
    pub name: String,
    pub result_set: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Monitoring {
    #[serde(default)]
    pub enabled: bool,
    #[serde(default)]
    pub sensitivity: Sensitivity,
    #[serde(default)]
    pub summary: Summary,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Sensitivity {
    Low,
    #[default]
    Normal,
    High,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Summary {
    Daily,
    #[default]
    None,
}

impl Rule {
    /// The rule's name, or `rule-<position>` (from 1).
    pub fn arm_name(&self, index: usize) -> String {
        self.name.clone().unwrap_or_else(|| format!("rule-{}", index + 1))
    }
}

impl Placement {
    /// Every arm an answer of this placement can name, with the result set it serves: the
    /// rules', then the experiment's or the default.
    pub fn arms(&self) -> Vec<(String, &str)> {
        let mut arms: Vec<(String, &str)> = self
            .rules
            .iter()
            .enumerate()
            .map(|(i, rule)| (rule.arm_name(i), rule.result_set.as_str()))
            .collect();
        match (&self.experiment, &self.result_set) {
            (Some(experiment), _) => arms.extend(
                experiment
                    .arms
                    .iter()
                    .map(|arm| (arm.name.clone(), arm.result_set.as_str())),
            ),
            (None, Some(result_set)) => arms.push((DEFAULT_ARM.to_owned(), result_set.as_str())),
            (None, None) => {}
        }
        arms
    }
}

/// One revision of a placement as the placements table keeps it: the document (`None`: deleted
/// at this revision), who wrote it and when.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlacementRecord {
    pub placement: String,
    /// 1 for the first document, one more for each change (deletes too).
    pub revision: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<Placement>,
    pub updated_by: String,
    /// RFC 3339.
    pub updated_at: String,
}

impl PlacementRecord {
    pub fn is_deleted(&self) -> bool {
        self.document.is_none()
    }
}
