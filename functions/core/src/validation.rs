//! Form validation: every problem at once, each with its JSON path and a sentence a business
//! user understands.
//!
//! Order of checks: size (before reading anything), UTF-8, JSON syntax, the published JSON
//! Schema (`schemas/job-form.v1.schema.json`), then the cross-field rules a schema cannot say
//! well (backend block, age range order, S3 URIs and the data-bucket allow-list).

use std::collections::BTreeSet;
use std::sync::OnceLock;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::Validator;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::form::{JobForm, MAX_FORM_BYTES};
use crate::s3uri::S3Uri;

/// The published schema, compiled into every function so what CI validates is what runs.
pub const FORM_SCHEMA_V1: &str = include_str!("../../../schemas/job-form.v1.schema.json");

/// One thing wrong with a form.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct FormProblem {
    /// JSON path of the offending value, e.g. `$.segment.age.min`; `$` is the whole form.
    pub path: String,
    /// Stable machine-readable name of the problem, e.g. `bucket_not_allowed`.
    pub code: String,
    /// What is wrong and how to fix it, for the person who filled in the form.
    pub message: String,
}

impl FormProblem {
    fn new(path: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

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

/// Problem for a form refused on size alone; its bytes are never parsed.
pub fn too_large_problem(size: u64) -> FormProblem {
    FormProblem::new(
        "$",
        "too_large",
        format!(
            "the form is {} KiB; the largest accepted is {} KiB",
            size.div_ceil(1024),
            MAX_FORM_BYTES / 1024
        ),
    )
}

/// Validates raw form bytes. On success the typed form, with defaults filled in.
pub fn validate_form(bytes: &[u8], rules: &ValidationRules) -> Result<JobForm, Vec<FormProblem>> {
    if bytes.len() > MAX_FORM_BYTES {
        return Err(vec![too_large_problem(bytes.len() as u64)]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let (line, column) = line_and_column(&bytes[..err.valid_up_to()]);
            return Err(vec![FormProblem::new(
                "$",
                "not_utf8",
                format!("the form is not UTF-8 text: invalid byte at line {line}, column {column}; save it as UTF-8"),
            )]);
        }
    };
    // Spreadsheet tools often save a byte-order mark; it is not an error in the form.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(vec![FormProblem::new(
            "$",
            "not_json",
            "the form is empty; it must be a JSON object",
        )]);
    }
    let value: Value = match serde_json::from_str(text) {
        Ok(value) => value,
        Err(err) => {
            return Err(vec![FormProblem::new(
                "$",
                "not_json",
                format!(
                    "the form is not valid JSON: {} at line {}, column {}",
                    json_error_reason(&err),
                    err.line(),
                    err.column()
                ),
            )]);
        }
    };

    let mut problems: BTreeSet<FormProblem> = schema_problems(&value).into_iter().collect();
    problems.extend(rule_problems(&value, rules));
    if !problems.is_empty() {
        return Err(capped(problems.into_iter().collect()));
    }
    serde_json::from_value(value).map_err(|err| {
        // The schema and the types describe the same form; reaching this is a recoflow bug,
        // still reported as a problem rather than a crash.
        vec![FormProblem::new(
            "$",
            "invalid_value",
            format!("the form could not be read: {err}"),
        )]
    })
}

/// Most problems listed for one form. A 256 KiB form can hold thousands of mistakes; listing
/// them all would overflow a DynamoDB item (400 KB) and help nobody.
pub const MAX_LISTED_PROBLEMS: usize = 100;

fn capped(mut problems: Vec<FormProblem>) -> Vec<FormProblem> {
    if problems.len() > MAX_LISTED_PROBLEMS {
        let more = problems.len() - MAX_LISTED_PROBLEMS;
        problems.truncate(MAX_LISTED_PROBLEMS);
        problems.push(FormProblem::new(
            "$",
            "too_many_problems",
            format!("and {more} more problem(s) not listed; fix these first"),
        ));
    }
    problems
}

fn line_and_column(prefix: &[u8]) -> (usize, usize) {
    let line = prefix.iter().filter(|b| **b == b'\n').count() + 1;
    let line_start = prefix.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
    let column = String::from_utf8_lossy(&prefix[line_start..]).chars().count() + 1;
    (line, column)
}

/// serde_json's message without its own " at line X column Y" suffix.
fn json_error_reason(err: &serde_json::Error) -> String {
    let full = err.to_string();
    match full.rfind(" at line ") {
        Some(i) => full[..i].to_owned(),
        None => full,
    }
}

fn form_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| {
        let schema: Value =
            serde_json::from_str(FORM_SCHEMA_V1).expect("the bundled form schema is valid JSON");
        jsonschema::validator_for(&schema).expect("the bundled form schema is a valid JSON Schema")
    })
}

fn schema_problems(value: &Value) -> Vec<FormProblem> {
    let mut problems = Vec::new();
    for error in form_validator().iter_errors(value) {
        let path = json_path(error.instance_path().as_str());
        let field = last_field(&path);
        let instance = error.instance();
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    problems.push(FormProblem::new(
                        join_path(&path, name),
                        "unknown_field",
                        format!(
                            "\"{name}\" is not a field of {}; check its spelling or remove it",
                            describe(&path)
                        ),
                    ));
                }
            }
            ValidationErrorKind::Required { property } => {
                let name = property.as_str().unwrap_or_default();
                problems.push(FormProblem::new(
                    join_path(&path, name),
                    "missing_field",
                    format!("{} is required", join_path(&path, name).trim_start_matches("$.")),
                ));
            }
            ValidationErrorKind::Type { kind } => problems.push(FormProblem::new(
                &path,
                "wrong_type",
                format!(
                    "{} must be {}, not {}",
                    describe(&path),
                    type_names(kind),
                    json_kind(instance)
                ),
            )),
            ValidationErrorKind::Constant { expected_value } if field == "schema_version" => {
                problems.push(FormProblem::new(
                    &path,
                    "unsupported_version",
                    format!("schema_version must be {expected_value}; this recoflow reads form version 1"),
                ))
            }
            ValidationErrorKind::Enum { options } => problems.push(FormProblem::new(
                &path,
                "invalid_choice",
                format!(
                    "{} must be one of {}, not {}",
                    describe(&path),
                    list_values(options),
                    instance
                ),
            )),
            ValidationErrorKind::Minimum { limit } => problems.push(FormProblem::new(
                &path,
                "out_of_range",
                format!("{} must be at least {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::ExclusiveMinimum { limit } => problems.push(FormProblem::new(
                &path,
                "out_of_range",
                format!("{} must be more than {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::Maximum { limit } => problems.push(FormProblem::new(
                &path,
                "out_of_range",
                format!("{} must be at most {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::MinLength { limit } => problems.push(FormProblem::new(
                &path,
                "too_short",
                format!("{} must have at least {limit} characters", describe(&path)),
            )),
            ValidationErrorKind::MaxLength { limit } => problems.push(FormProblem::new(
                &path,
                "too_long",
                format!("{} must have at most {limit} characters", describe(&path)),
            )),
            ValidationErrorKind::Pattern { .. } => problems.push(pattern_problem(&path, field, instance)),
            ValidationErrorKind::MinItems { .. } => problems.push(FormProblem::new(
                &path,
                "empty_list",
                format!(
                    "{} must list at least one value; remove it to mean \"any\"",
                    describe(&path)
                ),
            )),
            ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MaxProperties { limit } => {
                problems.push(FormProblem::new(
                    &path,
                    "too_many",
                    format!("{} may have at most {limit} entries", describe(&path)),
                ))
            }
            ValidationErrorKind::MinProperties { .. } => problems.push(FormProblem::new(
                &path,
                "empty_block",
                format!("{} is empty; fill it in or remove it", describe(&path)),
            )),
            ValidationErrorKind::UniqueItems => problems.push(FormProblem::new(
                &path,
                "duplicate_values",
                format!("{} lists the same value more than once", describe(&path)),
            )),
            ValidationErrorKind::PropertyNames { .. } => problems.push(FormProblem::new(
                &path,
                "too_long",
                format!("a name in {} is longer than 256 characters", describe(&path)),
            )),
            other => problems.push(FormProblem::new(
                &path,
                "invalid_value",
                format!("{} is not valid ({})", describe(&path), other.keyword()),
            )),
        }
    }
    problems
}

fn pattern_problem(path: &str, field: &str, instance: &Value) -> FormProblem {
    let (code, rule) = match field {
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
        _ => ("invalid_format", "has the wrong format"),
    };
    FormProblem::new(path, code, format!("{} {rule}; got {instance}", describe(path)))
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
    problems
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

/// `/segment/region/0` → `$.segment.region[0]`.
fn json_path(pointer: &str) -> String {
    let mut path = String::from("$");
    for segment in pointer.split('/').skip(1) {
        let segment = segment.replace("~1", "/").replace("~0", "~");
        if !segment.is_empty() && segment.bytes().all(|b| b.is_ascii_digit()) {
            path.push_str(&format!("[{segment}]"));
        } else {
            path = join_path(&path, &segment);
        }
    }
    path
}

fn join_path(path: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("{path}.{name}")
    } else {
        format!("{path}[{}]", Value::from(name))
    }
}

fn last_field(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn describe(path: &str) -> String {
    if path == "$" {
        "the form".to_owned()
    } else {
        path.trim_start_matches("$.").to_owned()
    }
}

fn type_names(kind: &TypeKind) -> String {
    let name = |t: &dyn std::fmt::Display| match t.to_string().as_str() {
        "object" => "an object ({ ... })".to_owned(),
        "array" => "a list ([ ... ])".to_owned(),
        "integer" => "a whole number".to_owned(),
        "string" => "text in quotes".to_owned(),
        "boolean" => "true or false".to_owned(),
        other => format!("a {other}"),
    };
    match kind {
        TypeKind::Single(t) => name(t),
        TypeKind::Multiple(set) => set.iter().map(|t| name(&t)).collect::<Vec<_>>().join(" or "),
    }
}

fn json_kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(n) if n.is_i64() || n.is_u64() => "a whole number",
        Value::Number(_) => "a decimal number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn list_values(options: &Value) -> String {
    options
        .as_array()
        .map(|values| values.iter().map(Value::to_string).collect::<Vec<_>>().join(", "))
        .unwrap_or_else(|| options.to_string())
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

    #[test]
    fn json_paths_index_lists() {
        assert_eq!(json_path("/segment/region/1"), "$.segment.region[1]");
        assert_eq!(
            json_path("/container/hyperparameters/a b"),
            "$.container.hyperparameters[\"a b\"]"
        );
        assert_eq!(json_path(""), "$");
    }
}
