//! Checking a JSON document a person wrote (a job form, a placement) against its published
//! schema: every problem at once, each with its JSON path, a stable code and a sentence the
//! author understands.
//!
//! Order of checks: size (before reading anything), UTF-8, JSON syntax, the schema, then the
//! document's own rules (given by the caller, run on the raw value so they are reported with
//! the schema's problems), and last the typed value.

use std::collections::BTreeSet;

use jsonschema::error::{TypeKind, ValidationErrorKind};
use jsonschema::Validator;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// One thing wrong with a document.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Problem {
    /// JSON path of the offending value, e.g. `$.segment.age.min`; `$` is the whole document.
    pub path: String,
    /// Stable machine-readable name of the problem, e.g. `bucket_not_allowed`.
    pub code: String,
    /// What is wrong and how to fix it, for the person who wrote the document.
    pub message: String,
}

impl Problem {
    pub fn new(path: impl Into<String>, code: &str, message: impl Into<String>) -> Self {
        Self {
            path: path.into(),
            code: code.to_owned(),
            message: message.into(),
        }
    }
}

/// What kind of document is checked: what its messages call it, how large it may be, its
/// schema, and the codes its own string patterns have.
pub struct DocumentKind {
    /// How messages name the whole document: `form`, `placement`.
    pub noun: &'static str,
    pub max_bytes: usize,
    /// The compiled schema (compiled once, on first use).
    pub schema: fn() -> &'static Validator,
    /// For a field whose string breaks its `pattern`: the problem's code and the rule it must
    /// follow, e.g. `("invalid_name", "must be lower-case letters, ...")`; `None`: generic.
    pub pattern_rule: fn(field: &str) -> Option<(&'static str, &'static str)>,
}

/// Most problems listed for one document. A 256 KiB form can hold thousands of mistakes;
/// listing them all would overflow a DynamoDB item (400 KB) and help nobody.
pub const MAX_LISTED_PROBLEMS: usize = 100;

/// Compiles a schema bundled with the code; a broken one is a recoflow bug.
pub fn compile_schema(text: &str) -> Validator {
    let schema: Value = serde_json::from_str(text).expect("a bundled schema is valid JSON");
    jsonschema::validator_for(&schema).expect("a bundled schema is a valid JSON Schema")
}

/// Validates raw bytes: on success the typed document (defaults filled in by its types).
pub fn validate<T: DeserializeOwned>(
    bytes: &[u8],
    kind: &DocumentKind,
    rules: impl FnOnce(&Value) -> Vec<Problem>,
) -> Result<T, Vec<Problem>> {
    let value = parse(bytes, kind)?;
    let mut problems: BTreeSet<Problem> = schema_problems(&value, kind).into_iter().collect();
    problems.extend(rules(&value));
    if !problems.is_empty() {
        return Err(capped(problems.into_iter().collect()));
    }
    serde_json::from_value(value).map_err(|err| {
        // The schema and the types describe the same document; reaching this is a recoflow
        // bug, still reported as a problem rather than a crash.
        vec![Problem::new(
            "$",
            "invalid_value",
            format!("the {} could not be read: {err}", kind.noun),
        )]
    })
}

/// Problem for a document refused on size alone; its bytes are never parsed.
pub fn too_large(kind: &DocumentKind, size: u64) -> Problem {
    Problem::new(
        "$",
        "too_large",
        format!(
            "the {} is {} KiB; the largest accepted is {} KiB",
            kind.noun,
            size.div_ceil(1024),
            kind.max_bytes / 1024
        ),
    )
}

/// The bytes as a JSON value: size, UTF-8 and syntax, each refused with where it went wrong.
fn parse(bytes: &[u8], kind: &DocumentKind) -> Result<Value, Vec<Problem>> {
    let noun = kind.noun;
    if bytes.len() > kind.max_bytes {
        return Err(vec![too_large(kind, bytes.len() as u64)]);
    }
    let text = match std::str::from_utf8(bytes) {
        Ok(text) => text,
        Err(err) => {
            let (line, column) = line_and_column(&bytes[..err.valid_up_to()]);
            return Err(vec![Problem::new(
                "$",
                "not_utf8",
                format!("the {noun} is not UTF-8 text: invalid byte at line {line}, column {column}; save it as UTF-8"),
            )]);
        }
    };
    // Spreadsheet tools often save a byte-order mark; it is not an error in the document.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.trim().is_empty() {
        return Err(vec![Problem::new(
            "$",
            "not_json",
            format!("the {noun} is empty; it must be a JSON object"),
        )]);
    }
    serde_json::from_str(text).map_err(|err| {
        vec![Problem::new(
            "$",
            "not_json",
            format!(
                "the {noun} is not valid JSON: {} at line {}, column {}",
                json_error_reason(&err),
                err.line(),
                err.column()
            ),
        )]
    })
}

fn capped(mut problems: Vec<Problem>) -> Vec<Problem> {
    if problems.len() > MAX_LISTED_PROBLEMS {
        let more = problems.len() - MAX_LISTED_PROBLEMS;
        problems.truncate(MAX_LISTED_PROBLEMS);
        problems.push(Problem::new(
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

/// Each schema violation as a problem a person can act on.
fn schema_problems(value: &Value, kind: &DocumentKind) -> Vec<Problem> {
    let mut problems = Vec::new();
    let describe = |path: &str| describe(path, kind.noun);
    for error in (kind.schema)().iter_errors(value) {
        let path = json_path(error.instance_path().as_str());
        let field = last_field(&path);
        let instance = error.instance();
        let problem = |code: &str, message: String| Problem::new(&path, code, message);
        match error.kind() {
            ValidationErrorKind::AdditionalProperties { unexpected } => {
                for name in unexpected {
                    problems.push(Problem::new(
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
                problems.push(Problem::new(
                    join_path(&path, name),
                    "missing_field",
                    format!("{} is required", join_path(&path, name).trim_start_matches("$.")),
                ));
            }
            ValidationErrorKind::Type { kind } => problems.push(problem(
                "wrong_type",
                format!(
                    "{} must be {}, not {}",
                    describe(&path),
                    type_names(kind),
                    json_kind(instance)
                ),
            )),
            ValidationErrorKind::Constant { expected_value } if field == "schema_version" => {
                problems.push(problem(
                    "unsupported_version",
                    format!(
                        "schema_version must be {expected_value}; this recoflow reads {} version 1",
                        kind.noun
                    ),
                ))
            }
            ValidationErrorKind::Enum { options } => problems.push(problem(
                "invalid_choice",
                format!(
                    "{} must be one of {}, not {}",
                    describe(&path),
                    list_values(options),
                    instance
                ),
            )),
            ValidationErrorKind::Minimum { limit } => problems.push(problem(
                "out_of_range",
                format!("{} must be at least {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::ExclusiveMinimum { limit } => problems.push(problem(
                "out_of_range",
                format!("{} must be more than {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::Maximum { limit } => problems.push(problem(
                "out_of_range",
                format!("{} must be at most {limit}, not {instance}", describe(&path)),
            )),
            ValidationErrorKind::MinLength { limit } => problems.push(problem(
                "too_short",
                format!("{} must have at least {limit} characters", describe(&path)),
            )),
            ValidationErrorKind::MaxLength { limit } => problems.push(problem(
                "too_long",
                format!("{} must have at most {limit} characters", describe(&path)),
            )),
            ValidationErrorKind::Pattern { .. } => {
                let (code, rule) =
                    (kind.pattern_rule)(field).unwrap_or(("invalid_format", "has the wrong format"));
                problems.push(problem(
                    code,
                    format!("{} {rule}; got {instance}", describe(&path)),
                ))
            }
            ValidationErrorKind::MinItems { .. } => problems.push(problem(
                "empty_list",
                format!(
                    "{} must list at least one value; remove it to mean \"any\"",
                    describe(&path)
                ),
            )),
            ValidationErrorKind::MaxItems { limit } | ValidationErrorKind::MaxProperties { limit } => {
                problems.push(problem(
                    "too_many",
                    format!("{} may have at most {limit} entries", describe(&path)),
                ))
            }
            ValidationErrorKind::MinProperties { .. } => problems.push(problem(
                "empty_block",
                format!("{} is empty; fill it in or remove it", describe(&path)),
            )),
            ValidationErrorKind::UniqueItems => problems.push(problem(
                "duplicate_values",
                format!("{} lists the same value more than once", describe(&path)),
            )),
            // A map whose names follow a pattern (column names): the name's own path and rule.
            ValidationErrorKind::PropertyNames { error: name_error }
                if matches!(name_error.kind(), ValidationErrorKind::Pattern { .. }) =>
            {
                let name = name_error.instance().as_str().unwrap_or_default();
                let (code, rule) =
                    (kind.pattern_rule)(field).unwrap_or(("invalid_format", "has the wrong format"));
                problems.push(Problem::new(
                    join_path(&path, name),
                    code,
                    format!("the name {name:?} in {} {rule}", describe(&path)),
                ))
            }
            ValidationErrorKind::PropertyNames { .. } => problems.push(problem(
                "too_long",
                format!("a name in {} is longer than 256 characters", describe(&path)),
            )),
            other => problems.push(problem(
                "invalid_value",
                format!("{} is not valid ({})", describe(&path), other.keyword()),
            )),
        }
    }
    problems
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

/// `$.a` and `b` → `$.a.b`; a name that is not plain → `$.a["b c"]`.
pub fn join_path(path: &str, name: &str) -> String {
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

fn describe(path: &str, noun: &str) -> String {
    if path == "$" {
        format!("the {noun}")
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
