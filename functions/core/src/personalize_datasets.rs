//! The Personalize datasets a job imports into: one per data file, each with the Avro schema
//! its CSV header calls for, in a dataset group of its result set named by the job's schema
//! generation (a short hash of those schemas).
//!
//! Personalize never changes a dataset's schema, so a job whose files have other columns (a
//! changed users or items header, an items file added or left out) gets a generation of its
//! own: its own dataset group, datasets and solutions. Jobs with the same columns share one
//! (a rerun reuses what exists), and take turns on it: see `quota::Pool::PersonalizeDatasets`.

use serde_json::json;

use crate::form::{Backend, JobForm};
use crate::job::Prepared;
use crate::launch::DatasetType;
use crate::phase::{result_set_resource_name, short_hash, Phase};
use crate::quota::Pool;

/// Hex digits of the schemas' hash in a generation's names.
const GENERATION_HASH_CHARS: usize = 8;

/// One data file as Personalize imports it.
#[derive(Debug, Clone, PartialEq)]
pub struct DatasetFile<'a> {
    pub dataset_type: DatasetType,
    pub uri: &'a str,
    /// Avro schema JSON.
    pub schema: String,
}

/// The job's data files that Personalize imports, in Personalize's order (interactions, users,
/// items).
pub fn dataset_files(prepared: &Prepared) -> Vec<DatasetFile<'_>> {
    let mut files: Vec<DatasetFile<'_>> = prepared
        .files
        .iter()
        .filter_map(|file| {
            DatasetType::for_field(&file.field).map(|dataset_type| DatasetFile {
                dataset_type,
                uri: file.uri.as_str(),
                schema: avro_schema(dataset_type, &file.columns),
            })
        })
        .collect();
    files.sort_by_key(|file| file.dataset_type);
    files
}

/// Personalize's Avro schema for a CSV with these (upper-case) columns. Known columns get the
/// types Personalize requires; every other column is optional categorical metadata.
pub fn avro_schema(dataset_type: DatasetType, columns: &[String]) -> String {
    let fields: Vec<serde_json::Value> = columns
        .iter()
        .map(|column| match column.as_str() {
            "USER_ID" | "ITEM_ID" => json!({"name": column, "type": "string"}),
            "TIMESTAMP" | "CREATION_TIMESTAMP" => json!({"name": column, "type": "long"}),
            "EVENT_TYPE" => json!({"name": column, "type": "string"}),
            "EVENT_VALUE" => json!({"name": column, "type": ["null", "float"]}),
            _ => json!({"name": column, "type": ["null", "string"], "categorical": true}),
        })
        .collect();
    json!({
        "type": "record",
        "name": dataset_type.as_str().to_ascii_lowercase(),
        "namespace": "com.amazonaws.personalize.schema",
        "fields": fields,
        "version": "1.0",
    })
    .to_string()
}

/// A result set's Personalize resources for one set of schemas: the dataset group
/// `rf-<result set>-g<hash>`, and its datasets and solutions named after it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SchemaGeneration {
    result_set: String,
    /// `g<hash of the schemas>`.
    id: String,
}

impl SchemaGeneration {
    pub fn of(result_set: &str, files: &[DatasetFile<'_>]) -> Self {
        let schemas: Vec<&str> = files.iter().map(|f| f.schema.as_str()).collect();
        Self {
            result_set: result_set.to_owned(),
            id: format!("g{}", short_hash(&schemas.join("\n"), GENERATION_HASH_CHARS)),
        }
    }

    /// The generation of a Personalize job's files; `None` for the container backend, which
    /// imports nothing.
    pub fn of_job(form: &JobForm, prepared: &Prepared) -> Option<Self> {
        (form.backend == Backend::Personalize).then(|| Self::of(&form.result_set, &dataset_files(prepared)))
    }

    pub fn dataset_group(&self) -> String {
        result_set_resource_name(&self.result_set, Some(&self.id))
    }

    /// A resource of the generation's dataset group: a dataset (`interactions`), a solution.
    pub fn resource(&self, part: &str) -> String {
        result_set_resource_name(&self.result_set, Some(&format!("{}-{part}", self.id)))
    }

    /// The pool whose one unit is the hold on the generation's datasets.
    pub fn datasets_pool(&self) -> Pool {
        Pool::PersonalizeDatasets {
            dataset_group: self.dataset_group(),
        }
    }

    pub fn result_set(&self) -> &str {
        &self.result_set
    }
}

/// Whether a job holds its datasets while this phase runs: from its import (which replaces
/// their data) until its training (which reads it) ends; batch inference reads the trained
/// model only.
pub fn holds_datasets(phase: Phase) -> bool {
    matches!(phase, Phase::Import | Phase::Train)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::job::PreparedFile;

    fn prepared(files: &[(&str, &[&str])]) -> Prepared {
        Prepared {
            files: files
                .iter()
                .map(|(field, columns)| PreparedFile {
                    field: format!("dataset.{field}"),
                    uri: format!("s3://data/{field}.csv"),
                    bytes: 10,
                    columns: columns.iter().map(|c| c.to_string()).collect(),
                })
                .collect(),
            scoring_input: "s3://results/jobs/j/input/users/".into(),
            users_to_score: 1,
            scoring_parts: 1,
            scoring_groups: 1,
        }
    }

    const INTERACTIONS: (&str, &[&str]) = ("interactions", &["USER_ID", "ITEM_ID", "TIMESTAMP"]);
    const USERS: (&str, &[&str]) = ("users", &["USER_ID", "GENDER"]);

    fn form(backend: &str) -> JobForm {
        let mut form = json!({
            "schema_version": 1, "job_name": "spring", "submitted_by": "a@b.co", "result_set": "spring",
            "backend": backend, "dataset": {"interactions": "s3://data/i.csv", "users": "s3://data/u.csv"},
        });
        if backend == "container" {
            form["container"] =
                json!({"training_image": "img", "scoring_image": "img", "instance_type": "ml.m5.large"});
        } else {
            form["personalize"] = json!({});
        }
        let rules = crate::validation::ValidationRules::from_allow_list("data");
        crate::validation::validate_form(form.to_string().as_bytes(), &rules).unwrap()
    }

    fn generation(files: &[(&str, &[&str])]) -> SchemaGeneration {
        SchemaGeneration::of("spring", &dataset_files(&prepared(files)))
    }

    #[test]
    fn files_come_in_personalize_s_order_with_their_schemas() {
        let prepared = prepared(&[USERS, INTERACTIONS]);
        let files = dataset_files(&prepared);
        let types: Vec<DatasetType> = files.iter().map(|f| f.dataset_type).collect();
        assert_eq!(types, [DatasetType::Interactions, DatasetType::Users]);
        assert_eq!(files[0].uri, "s3://data/interactions.csv");
        let schema: serde_json::Value = serde_json::from_str(&files[1].schema).unwrap();
        assert_eq!(schema["name"], "users");
    }

    #[test]
    fn the_same_columns_share_a_generation_and_other_columns_get_their_own() {
        let first = generation(&[INTERACTIONS, USERS]);
        assert_eq!(
            first,
            generation(&[USERS, INTERACTIONS]),
            "the order of the files does not matter"
        );
        let group = first.dataset_group();
        assert!(
            group.starts_with("rf-spring-g") && group.len() == "rf-spring-g".len() + 8,
            "{group}"
        );
        assert_eq!(first.resource("interactions"), format!("{group}-interactions"));
        assert_eq!(
            first.datasets_pool().key(),
            format!("personalize-datasets:{group}")
        );

        let changed_header = generation(&[INTERACTIONS, ("users", &["USER_ID", "GENDER", "AGE"])]);
        let with_items = generation(&[INTERACTIONS, USERS, ("items", &["ITEM_ID", "CATEGORY"])]);
        for other in [&changed_header, &with_items] {
            assert_ne!(other.dataset_group(), group);
            assert_ne!(other.resource("interactions"), first.resource("interactions"));
        }
    }

    #[test]
    fn long_result_sets_keep_names_personalize_accepts() {
        let long = SchemaGeneration::of(&"a".repeat(48), &dataset_files(&prepared(&[INTERACTIONS])));
        for name in [
            long.dataset_group(),
            long.resource("aws-user-personalization-v2-std"),
        ] {
            assert!(name.len() <= crate::phase::MAX_RESOURCE_NAME, "{name}");
        }
        assert_ne!(long.resource("a-hpo"), long.resource("a-std"));
    }

    #[test]
    fn only_personalize_jobs_hold_datasets_and_only_until_training_ends() {
        let prepared = prepared(&[INTERACTIONS]);
        assert!(SchemaGeneration::of_job(&form("container"), &prepared).is_none());
        assert!(SchemaGeneration::of_job(&form("personalize"), &prepared).is_some());
        assert!(holds_datasets(Phase::Import) && holds_datasets(Phase::Train));
        assert!(!holds_datasets(Phase::Score));
    }

    #[test]
    fn schemas_type_the_known_columns() {
        let schema: serde_json::Value = serde_json::from_str(&avro_schema(
            DatasetType::Interactions,
            &[
                "USER_ID".into(),
                "ITEM_ID".into(),
                "TIMESTAMP".into(),
                "EVENT_TYPE".into(),
                "DEVICE".into(),
            ],
        ))
        .unwrap();
        assert_eq!(schema["fields"][2], json!({"name": "TIMESTAMP", "type": "long"}));
        assert_eq!(schema["fields"][4]["categorical"], true);
    }
}
