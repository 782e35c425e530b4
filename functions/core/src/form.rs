//! The job form, version 1: what a business user submits.
//!
//! The published contract is `schemas/job-form.v1.schema.json`; these types mirror it and are
//! only ever built from a form that passed [`crate::validation::validate_form`].

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strum::{EnumIter, IntoEnumIterator, IntoStaticStr};

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
    /// What the job makes; `user_items` for forms written before there was a choice.
    #[serde(default)]
    pub output: Output,
    pub dataset: Dataset,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<Segment>,
    /// Output `audience`: which items the audience is for, and how many users it keeps.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audience: Option<Audience>,
    /// Output `user_items`: the attributes the segment fallback lists are kept for.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fallback: Option<Fallback>,
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
    /// A recurring form: submitting it makes a schedule whose firings each start a job.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<crate::schedule::ScheduleSettings>,
    /// A data-driven form: submitting it makes a trigger that starts a job whenever every data
    /// file has a new version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trigger: Option<crate::trigger::TriggerSettings>,
    /// A scheduled or triggered job runs even when its form and data are those of the last
    /// success (which it would otherwise skip).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub force: bool,
    /// Where the job stands in a quota pool's queue against jobs submitted before it.
    #[serde(default)]
    pub priority: Priority,
}

/// A job's priority in the quota queues: waiting jobs are served `high` first, then `normal`,
/// then `low`, each in the order they were submitted (the declaration order is that rank).
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    Deserialize,
    IntoStaticStr,
    EnumIter,
)]
#[serde(rename_all = "lowercase")]
#[strum(serialize_all = "lowercase")]
pub enum Priority {
    High,
    #[default]
    Normal,
    Low,
}

impl Priority {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
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

/// What a job makes. The form's other fields follow from it: a field that belongs to another
/// output is refused (`field_not_for_output`), and so is a recipe that cannot make it.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize, IntoStaticStr, EnumIter,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Output {
    /// A ranked list of items per user, with segment and global fallbacks.
    #[default]
    UserItems,
    /// The users most likely to respond to given items (or to items matching a filter), ranked.
    Audience,
    /// Each item's most similar items.
    SimilarItems,
}

impl Output {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The Amazon Personalize recipes whose solutions make this output.
    pub fn recipes(self) -> &'static [&'static str] {
        match self {
            Output::UserItems => &[
                "aws-user-personalization",
                "aws-user-personalization-v2",
                "aws-popularity-count",
            ],
            Output::Audience => &[AUDIENCE_ITEMS_RECIPE, AUDIENCE_FILTER_RECIPE],
            Output::SimilarItems => &[SIMILAR_ITEMS_RECIPE, "aws-sims"],
        }
    }

    /// The output a recipe makes (`None`: a recipe recoflow does not know).
    pub fn of_recipe(recipe: &str) -> Option<Output> {
        Output::iter().find(|output| output.recipes().contains(&recipe))
    }
}

/// The recipe of an audience for given items (a batch segment job on item ids).
pub const AUDIENCE_ITEMS_RECIPE: &str = "aws-item-affinity";
/// The recipe of an audience for items matching a filter (a batch segment job on item
/// attributes).
pub const AUDIENCE_FILTER_RECIPE: &str = "aws-item-attribute-affinity";

/// The recipe of similar items when the form names none.
pub const SIMILAR_ITEMS_RECIPE: &str = "aws-similar-items";

/// An audience's size when the form gives neither `size` nor `min_score`.
pub const DEFAULT_AUDIENCE_SIZE: u32 = 10_000;

/// Output `audience`: exactly one of `items` and `item_filter`; at most one of `size` and
/// `min_score` (neither: the best [`DEFAULT_AUDIENCE_SIZE`] users).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Audience {
    /// Item ids: one audience per item.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub items: Option<Vec<String>>,
    /// Items-file column → values: one audience for the items matching every column.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub item_filter: Option<BTreeMap<String, Vec<String>>>,
    /// Most users kept per audience, best first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<u32>,
    /// Users scoring below this are left out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub min_score: Option<f64>,
}

/// Whom an audience is for.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudienceTarget<'a> {
    Items(&'a [String]),
    ItemFilter(&'a BTreeMap<String, Vec<String>>),
}

/// Which of the ranked users an audience keeps.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum AudienceCut {
    /// The best this many.
    Size(u32),
    /// Every user scoring at least this.
    MinScore(f64),
}

impl Audience {
    /// The items or the filter (validation guarantees exactly one; `items` wins otherwise).
    pub fn target(&self) -> AudienceTarget<'_> {
        match (&self.items, &self.item_filter) {
            (None, Some(filter)) => AudienceTarget::ItemFilter(filter),
            (items, _) => AudienceTarget::Items(items.as_deref().unwrap_or_default()),
        }
    }

    pub fn cut(&self) -> AudienceCut {
        match (self.size, self.min_score) {
            (None, Some(min_score)) => AudienceCut::MinScore(min_score),
            (size, _) => AudienceCut::Size(size.unwrap_or(DEFAULT_AUDIENCE_SIZE)),
        }
    }

    /// The recipe that makes this audience on Amazon Personalize.
    pub fn recipe(&self) -> &'static str {
        match self.target() {
            AudienceTarget::Items(_) => AUDIENCE_ITEMS_RECIPE,
            AudienceTarget::ItemFilter(_) => AUDIENCE_FILTER_RECIPE,
        }
    }
}

/// The fallback segments' dimensions (output `user_items`); without the block, today's:
/// [`DEFAULT_FALLBACK_ATTRIBUTES`] with AGE in [`DEFAULT_AGE_BANDS`], [`DEFAULT_MIN_SEGMENT_USERS`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Fallback {
    /// Users-file columns, at most [`MAX_FALLBACK_DIMENSIONS`]. When a user's most specific
    /// segment has no list, the attributes listed last are dropped first.
    #[serde(default = "default_fallback_attributes")]
    pub attributes: Vec<String>,
    /// Numeric columns counted by band: the bands' lower bounds, increasing. AGE has
    /// [`DEFAULT_AGE_BANDS`] unless given here.
    #[serde(default)]
    pub bands: BTreeMap<String, Vec<i64>>,
    /// A segment needs this many users of its own to get a list.
    #[serde(default = "default_min_segment_users")]
    pub min_users: u32,
}

/// At most this many fallback dimensions: a user counts in every non-empty combination of
/// theirs (2^n − 1 segments), so four keep it at 15.
pub const MAX_FALLBACK_DIMENSIONS: usize = 4;

/// Today's fallback dimensions, in their order of importance (REGION kept longest).
pub const DEFAULT_FALLBACK_ATTRIBUTES: [&str; 3] = ["REGION", "AGE", "GENDER"];

/// Age bands of the segment fallback lists (lower bounds): `<20`, `20-29`, …, `60+`.
pub const DEFAULT_AGE_BANDS: [i64; 5] = [20, 30, 40, 50, 60];

/// Segments with fewer users than this get no list of their own (the API then falls back to
/// a broader segment, then to the global list): a handful of users is not a trend.
pub const DEFAULT_MIN_SEGMENT_USERS: u32 = 5;

fn default_fallback_attributes() -> Vec<String> {
    DEFAULT_FALLBACK_ATTRIBUTES.map(str::to_owned).to_vec()
}

fn default_min_segment_users() -> u32 {
    DEFAULT_MIN_SEGMENT_USERS
}

impl Default for Fallback {
    fn default() -> Self {
        Self {
            attributes: default_fallback_attributes(),
            bands: BTreeMap::new(),
            min_users: DEFAULT_MIN_SEGMENT_USERS,
        }
    }
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
    /// Conditions on any users-file column (names as in its header, any case).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, AttributeCondition>,
}

/// A condition on one users-file column. Values are compared as text after Unicode NFC
/// normalisation and trimming; ranges compare numbers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum AttributeCondition {
    /// The value is one of these.
    In {
        #[serde(rename = "in")]
        values: Vec<String>,
    },
    /// The value is none of these (a blank value is none of them).
    NotIn { not_in: Vec<String> },
    /// The value is a number within the bounds given (inclusive).
    Range {
        #[serde(default, skip_serializing_if = "Option::is_none")]
        min: Option<f64>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max: Option<f64>,
    },
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
