//! Form validation: every problem at once, each with its JSON path and a sentence a business
//! user understands.
//!
//! Order of checks: size (before reading anything), UTF-8, JSON syntax, the published JSON
//! Schema (`schemas/job-form.v1.schema.json`), then the cross-field rules a schema cannot say
//! well (backend block, age range order, S3 URIs and the data-bucket allow-list).

use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use crate::document::{self, DocumentKind};
pub use crate::document::{Problem as FormProblem, MAX_LISTED_PROBLEMS};
use crate::form::{JobForm, Output, MAX_FORM_BYTES};
use crate::output_rules;
use crate::s3uri::S3Uri;

/// The published schema, compiled into every function so what CI validates is what runs.
pub const FORM_SCHEMA_V1: &str = include_str!("../../../schemas/job-form.v1.schema.json");

/// What validation needs from the deployment.
#[derive(Debug, Clone, Default)]
pub struct ValidationRules {
    /// Buckets a form may read data from (`ALLOWED_DATA_BUCKETS`). Empty allows none.
    pub allowed_data_buckets: Vec<String>,
    /// ECR repositories a container job's images may come from (`ALLOWED_IMAGE_REPOSITORIES`,
    /// e.g. `123456789012.dkr.ecr.eu-west-1.amazonaws.com/recsys`). `None`: not checked (a form
    /// validated away from any deployment); an empty list allows none.
    pub allowed_image_repositories: Option<Vec<String>>,
}

fn comma_list(list: &str) -> Vec<String> {
    list.split(',')
        .map(str::trim)
        .filter(|b| !b.is_empty())
        .map(str::to_owned)
        .collect()
}

impl ValidationRules {
    /// Parses the comma-separated `ALLOWED_DATA_BUCKETS` value.
    pub fn from_allow_list(list: &str) -> Self {
        Self {
            allowed_data_buckets: comma_list(list),
            allowed_image_repositories: None,
        }
    }

    /// Also checks images against the comma-separated `ALLOWED_IMAGE_REPOSITORIES` value.
    pub fn with_image_repositories(mut self, list: &str) -> Self {
        self.allowed_image_repositories = Some(comma_list(list));
        self
    }
}

/// The repository of an image URI: without its `:tag` or `@digest`.
fn image_repository(image: &str) -> &str {
    let name = image.split('@').next().unwrap_or(image);
    match name.rfind(':') {
        // A colon after the last slash is a tag; one before it is a registry's port.
        Some(colon) if colon > name.rfind('/').unwrap_or(0) => &name[..colon],
        _ => name,
    }
}

/// Job forms as [`document::validate`] checks them.
const FORM: DocumentKind = DocumentKind {
    noun: "form",
    max_bytes: MAX_FORM_BYTES,
    schema: form_validator,
    pattern_rule: form_pattern_rule,
};

/// Problem for a form refused on size alone; its bytes are never parsed.
pub fn too_large_problem(size: u64) -> FormProblem {
    document::too_large(&FORM, size)
}

/// Validates raw form bytes. On success the typed form, with defaults filled in.
pub fn validate_form(bytes: &[u8], rules: &ValidationRules) -> Result<JobForm, Vec<FormProblem>> {
    document::validate(bytes, &FORM, |value| rule_problems(value, rules)).map(with_output_recipe)
}

/// A personalize form that names no recipe gets its output's: the types' default is the
/// user-items one, which validation refuses when given for another output, so finding it on
/// a valid form of another output means the form named none.
fn with_output_recipe(mut form: JobForm) -> JobForm {
    let recipe = match (form.output, &form.audience) {
        (Output::Audience, Some(audience)) => audience.recipe(),
        (Output::SimilarItems, _) => crate::form::SIMILAR_ITEMS_RECIPE,
        _ => return form,
    };
    if let Some(settings) = form.personalize.as_mut() {
        if Output::of_recipe(&settings.recipe) == Some(Output::UserItems) {
            settings.recipe = recipe.to_owned();
        }
    }
    form
}

fn form_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| document::compile_schema(FORM_SCHEMA_V1))
}

fn form_pattern_rule(field: &str) -> Option<(&'static str, &'static str)> {
    Some(match field {
        "job_name" | "result_set" => (
            "invalid_name",
            "must be lower-case letters, digits and single hyphens, e.g. \"spring-tokyo\"",
        ),
        "submitted_by" => (
            "invalid_email",
            "must be an e-mail address such as \"ana@example.com\"",
        ),
        "instance_type" => (
            "invalid_instance_type",
            "must be a SageMaker instance type such as \"ml.m5.large\"",
        ),
        "slack_channel" => (
            "invalid_channel",
            "must be a Slack channel name such as \"#ml-alerts\" (lower-case, digits, - and _)",
        ),
        "training_image" | "scoring_image" => {
            ("invalid_image", "must be a container image URI without spaces")
        }
        // Maps keyed by column, and the fallback's list of columns (`attributes[0]`).
        "attributes" | "item_filter" | "bands" => ("invalid_column", output_rules::COLUMN_RULE),
        list if list.starts_with("attributes[") => ("invalid_column", output_rules::COLUMN_RULE),
        _ => return None,
    })
}

/// Rules the schema cannot express clearly, run on the raw value so that they are reported
/// together with the schema's problems.
fn rule_problems(form: &Value, rules: &ValidationRules) -> Vec<FormProblem> {
    let mut problems = Vec::new();
    let Some(form) = form.as_object() else {
        return problems;
    };

    if let Some(backend) = form.get("backend").and_then(Value::as_str) {
        let other = match backend {
            "personalize" => Some("container"),
            "container" => Some("personalize"),
            _ => None,
        };
        if let Some(other) = other {
            if !form.contains_key(backend) {
                problems.push(FormProblem::new(
                    format!("$.{backend}"),
                    "missing_backend_block",
                    if backend == "personalize" {
                        "backend is \"personalize\" but the form has no personalize block; add one ({} keeps the defaults)".to_owned()
                    } else {
                        "backend is \"container\" but the form has no container block; add one with the images and instance type".to_owned()
                    },
                ));
            }
            if form.contains_key(other) {
                problems.push(FormProblem::new(
                    format!("$.{other}"),
                    "both_backend_blocks",
                    format!("backend is \"{backend}\" but the form also has a {other} block; remove the {other} block"),
                ));
            }
        }
    }

    if let Some(age) = form.get("segment").and_then(|s| s.get("age")) {
        if let (Some(min), Some(max)) = (
            age.get("min").and_then(Value::as_u64),
            age.get("max").and_then(Value::as_u64),
        ) {
            if min > max {
                problems.push(FormProblem::new(
                    "$.segment.age",
                    "age_range_inverted",
                    format!("segment.age.min ({min}) is greater than segment.age.max ({max}); swap them"),
                ));
            }
        }
    }

    let dataset = form.get("dataset").and_then(Value::as_object);
    if form.get("segment").is_some_and(Value::is_object) && dataset.is_some_and(|d| !d.contains_key("users"))
    {
        problems.push(FormProblem::new(
            "$.dataset.users",
            "segment_needs_users",
            "a segment selects users by their attributes, so dataset.users (the users CSV) is required",
        ));
    }

    let mut uris: Vec<(String, &str)> = Vec::new();
    if let Some(dataset) = dataset {
        for name in ["interactions", "users", "items"] {
            if let Some(uri) = dataset.get(name).and_then(Value::as_str) {
                uris.push((format!("$.dataset.{name}"), uri));
            }
        }
    }
    if let Some(uri) = form.get("exclude_items").and_then(Value::as_str) {
        uris.push(("$.exclude_items".to_owned(), uri));
    }
    for (path, uri) in uris {
        match S3Uri::parse(uri) {
            Err(reason) => problems.push(FormProblem::new(path, "s3_uri_malformed", reason)),
            Ok(parsed) if !rules.allowed_data_buckets.contains(&parsed.bucket) => {
                let allowed = if rules.allowed_data_buckets.is_empty() {
                    "no bucket is allowed in this deployment".to_owned()
                } else {
                    format!("allowed: {}", rules.allowed_data_buckets.join(", "))
                };
                problems.push(FormProblem::new(
                    path,
                    "bucket_not_allowed",
                    format!(
                        "bucket \"{}\" is not one recoflow may read data from ({allowed})",
                        parsed.bucket
                    ),
                ));
            }
            Ok(_) => {}
        }
    }
    problems.extend(image_problems(form, rules));
    problems.extend(gate_problems(form));
    problems.extend(output_rules::output_problems(form));
    problems.extend(output_rules::attribute_problems(form));
    problems.extend(output_rules::fallback_problems(form));
    problems.extend(schedule_problems(form));
    problems.extend(trigger_problems(form));
    problems
}

/// A form starts its jobs on a schedule or when new data arrives, not both (which firings
/// would the data wait for?).
fn trigger_problems(form: &serde_json::Map<String, Value>) -> Vec<FormProblem> {
    if !(form.contains_key("schedule") && form.contains_key("trigger")) {
        return Vec::new();
    }
    vec![FormProblem::new(
        "$.trigger",
        "choose_one",
        "a form runs on a schedule or when new data arrives, not both; remove schedule or trigger",
    )]
}

/// A schedule block's expression, zone and dates, as EventBridge Scheduler would judge them
/// (the shape is the schema's: a block that breaks it is left to the schema's problems).
fn schedule_problems(form: &serde_json::Map<String, Value>) -> Vec<FormProblem> {
    let Some(block) = form.get("schedule") else {
        return Vec::new();
    };
    let Ok(settings) = serde_json::from_value::<crate::schedule::ScheduleSettings>(block.clone()) else {
        return Vec::new();
    };
    settings
        .timing(None)
        .err()
        .unwrap_or_default()
        .into_iter()
        .map(|problem| {
            FormProblem::new(
                format!("$.schedule.{}", problem.field),
                problem.code,
                problem.message,
            )
        })
        .collect()
}

/// A quality gate whose `min` of a metric is above its `max` could never pass.
fn gate_problems(form: &serde_json::Map<String, Value>) -> Vec<FormProblem> {
    let gate = form.get("quality_gate");
    let (Some(min), Some(max)) = (
        gate.and_then(|g| g.get("min")).and_then(Value::as_object),
        gate.and_then(|g| g.get("max")).and_then(Value::as_object),
    ) else {
        return Vec::new();
    };
    min.iter()
        .filter_map(|(metric, low)| Some((metric, low.as_f64()?, max.get(metric)?.as_f64()?)))
        .filter(|(_, low, high)| low > high)
        .map(|(metric, low, high)| {
            FormProblem::new(
                format!("$.quality_gate.min.{metric}"),
                "bounds_inverted",
                format!("quality_gate.min.{metric} ({low}) is above quality_gate.max.{metric} ({high}): no version could pass; swap them"),
            )
        })
        .collect()
}

/// Images from repositories the deployment does not allow (a form names any image; the
/// container runs with the job's data and role).
fn image_problems(form: &serde_json::Map<String, Value>, rules: &ValidationRules) -> Vec<FormProblem> {
    let (Some(allowed), Some(container)) = (
        &rules.allowed_image_repositories,
        form.get("container").and_then(Value::as_object),
    ) else {
        return Vec::new();
    };
    ["training_image", "scoring_image"]
        .into_iter()
        .filter_map(|field| Some((field, container.get(field)?.as_str()?)))
        .filter(|(_, image)| !allowed.iter().any(|repo| repo == image_repository(image)))
        .map(|(field, image)| {
            let choices = if allowed.is_empty() {
                "this deployment allows no container images".to_owned()
            } else {
                format!("allowed repositories: {}", allowed.join(", "))
            };
            FormProblem::new(
                format!("$.container.{field}"),
                "image_not_allowed",
                format!(
                    "image \"{image}\" is not from a repository recoflow may run ({choices}); push it to one of them"
                ),
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rules() -> ValidationRules {
        ValidationRules::from_allow_list("recoflow-data, other-data")
    }

    fn valid_form() -> Value {
        json!({
            "schema_version": 1,
            "job_name": "spring-tokyo",
            "submitted_by": "ana@example.com",
            "result_set": "spring-2026",
            "backend": "personalize",
            "dataset": {
                "interactions": "s3://recoflow-data/shop/interactions.csv",
                "users": "s3://recoflow-data/shop/users.csv"
            },
            "segment": {"gender": ["F"], "age": {"min": 20, "max": 39}, "region": ["tokyo", "osaka"]},
            "personalize": {}
        })
    }

    fn problems(form: &Value) -> Vec<FormProblem> {
        validate_form(form.to_string().as_bytes(), &rules()).unwrap_err()
    }

    #[test]
    fn images_must_come_from_an_allowed_repository() {
        let rules = rules()
            .with_image_repositories("123.dkr.ecr.eu-west-1.amazonaws.com/recsys, registry:5000/team/model");
        let mut form = valid_form();
        form["backend"] = json!("container");
        form.as_object_mut().unwrap().remove("personalize");
        form["container"] = json!({
            "training_image": "123.dkr.ecr.eu-west-1.amazonaws.com/recsys:2",
            "scoring_image": "registry:5000/team/model@sha256:abc",
            "instance_type": "ml.m5.large"
        });
        assert!(validate_form(form.to_string().as_bytes(), &rules).is_ok());
        form["container"]["training_image"] = json!("123.dkr.ecr.eu-west-1.amazonaws.com/recsys-evil:2");
        form["container"]["scoring_image"] = json!("docker.io/library/python:3.11");
        let problems = validate_form(form.to_string().as_bytes(), &rules).unwrap_err();
        let found: Vec<(&str, &str)> = problems
            .iter()
            .map(|p| (p.path.as_str(), p.code.as_str()))
            .collect();
        assert_eq!(
            found,
            [
                ("$.container.scoring_image", "image_not_allowed"),
                ("$.container.training_image", "image_not_allowed")
            ]
        );
        // Unchecked when no list is given (a form checked away from a deployment).
        assert!(validate_form(
            form.to_string().as_bytes(),
            &super::super::validation::ValidationRules::from_allow_list("data")
        )
        .is_err_and(|p| p.iter().all(|p| p.code != "image_not_allowed")));
        // Network isolation is on unless turned off with a reason.
        form["container"]["training_image"] = json!("123.dkr.ecr.eu-west-1.amazonaws.com/recsys:2");
        form["container"]["scoring_image"] = json!("123.dkr.ecr.eu-west-1.amazonaws.com/recsys:2");
        let isolated = validate_form(form.to_string().as_bytes(), &rules).unwrap();
        assert!(isolated.container.as_ref().unwrap().network_isolation);
        form["container"]["network_isolation"] = json!(false);
        let problems = validate_form(form.to_string().as_bytes(), &rules).unwrap_err();
        assert_eq!(problems[0].path, "$.container.network_isolation_reason");
        form["container"]["network_isolation_reason"] = json!("downloads embeddings from our feature store");
        let open = validate_form(form.to_string().as_bytes(), &rules).unwrap();
        assert!(!open.container.unwrap().network_isolation);
    }

    #[test]
    fn a_trigger_block_is_checked_and_excludes_a_schedule() {
        let mut form = valid_form();
        form["trigger"] = json!({"on_new_data": true});
        form["force"] = json!(true);
        let valid = validate_form(form.to_string().as_bytes(), &rules()).unwrap();
        assert_eq!(valid.trigger.unwrap().quiet_seconds, 60);
        assert!(valid.force);
        form["trigger"] = json!({"on_new_data": false, "quiet_seconds": 86401});
        form["schedule"] = json!({"expression": "rate(1 day)"});
        let found: Vec<(String, String)> = problems(&form).into_iter().map(|p| (p.path, p.code)).collect();
        for expected in [
            ("$.trigger.on_new_data", "invalid_choice"),
            ("$.trigger.quiet_seconds", "out_of_range"),
            ("$.trigger", "choose_one"),
        ] {
            assert!(
                found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} missing from {found:?}"
            );
        }
    }

    #[test]
    fn valid_form_gets_defaults() {
        let form = validate_form(valid_form().to_string().as_bytes(), &rules()).unwrap();
        assert_eq!(form.num_results, 25);
        let personalize = form.personalize.unwrap();
        assert_eq!(personalize.recipe, "aws-user-personalization");
        assert!(!personalize.perform_hpo);
    }

    #[test]
    fn reports_every_problem_at_once() {
        let mut form = valid_form();
        form["colour"] = json!("blue");
        form["num_results"] = json!(501);
        form["segment"]["age"] = json!({"min": 40, "max": 20});
        form["dataset"]["items"] = json!("s3://elsewhere/items.csv");
        form["container"] =
            json!({"training_image": "a", "scoring_image": "b", "instance_type": "ml.m5.large"});
        let codes: Vec<(String, String)> = problems(&form).into_iter().map(|p| (p.path, p.code)).collect();
        for expected in [
            ("$.colour", "unknown_field"),
            ("$.num_results", "out_of_range"),
            ("$.segment.age", "age_range_inverted"),
            ("$.dataset.items", "bucket_not_allowed"),
            ("$.container", "both_backend_blocks"),
        ] {
            assert!(
                codes.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} missing from {codes:?}"
            );
        }
    }

    #[test]
    fn the_list_of_problems_is_capped() {
        let mut form = valid_form();
        for i in 0..250 {
            form[format!("extra_{i:03}")] = json!(i);
        }
        let problems = problems(&form);
        assert_eq!(problems.len(), MAX_LISTED_PROBLEMS + 1);
        let last = problems.last().unwrap();
        assert_eq!(last.code, "too_many_problems");
        assert!(last.message.contains("150 more"), "{}", last.message);
    }

    #[test]
    fn oversized_form_is_refused_before_parsing() {
        let bytes = vec![b'{'; MAX_FORM_BYTES + 1];
        let problems = validate_form(&bytes, &rules()).unwrap_err();
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].code, "too_large");
    }

    #[test]
    fn syntax_errors_name_line_and_column() {
        let problems = validate_form(b"{\n  \"job_name\": \"x\",\n  oops\n}", &rules()).unwrap_err();
        assert_eq!(problems[0].code, "not_json");
        assert!(
            problems[0].message.contains("line 3, column 3"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn invalid_utf8_names_line_and_column() {
        let problems = validate_form(b"{\n \"a\": \"\xff\"}", &rules()).unwrap_err();
        assert_eq!(problems[0].code, "not_utf8");
        assert!(
            problems[0].message.contains("line 2, column 8"),
            "{}",
            problems[0].message
        );
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let mut bytes = "\u{feff}".as_bytes().to_vec();
        bytes.extend(valid_form().to_string().as_bytes());
        assert!(validate_form(&bytes, &rules()).is_ok());
    }
}
