//! Placement validation: every problem at once, like forms (the same checker,
//! [`crate::document`]), then the rules the schema cannot say well.

use std::collections::HashSet;
use std::sync::OnceLock;

use jsonschema::Validator;
use serde_json::Value;

use super::{Placement, DEFAULT_ARM, MAX_PLACEMENT_BYTES};
use crate::document::{self, join_path, DocumentKind, Problem};

/// The published schema, compiled into every function so what CI validates is what runs.
pub const PLACEMENT_SCHEMA_V1: &str = include_str!("../../../../schemas/placement.v1.schema.json");

const PLACEMENT: DocumentKind = DocumentKind {
    noun: "placement",
    max_bytes: MAX_PLACEMENT_BYTES,
    schema: placement_validator,
    pattern_rule: placement_pattern_rule,
};

/// Most query-string attributes a request (and so a rule) may name, and their longest name.
pub const MAX_ATTRIBUTE_NAME_CHARS: usize = 32;

/// Validates raw placement bytes. On success the typed placement, with defaults filled in.
pub fn validate_placement(bytes: &[u8]) -> Result<Placement, Vec<Problem>> {
    document::validate(bytes, &PLACEMENT, rule_problems)
}

/// Problem for a placement refused on size alone.
pub fn too_large_problem(size: u64) -> Problem {
    document::too_large(&PLACEMENT, size)
}

/// A name the query string may carry as an attribute: lower-case letters, digits and `_`,
/// starting with a letter; `n` is the list's length, not an attribute.
pub fn is_attribute_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    name.len() <= MAX_ATTRIBUTE_NAME_CHARS
        && name != "n"
        && bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn placement_validator() -> &'static Validator {
    static VALIDATOR: OnceLock<Validator> = OnceLock::new();
    VALIDATOR.get_or_init(|| document::compile_schema(PLACEMENT_SCHEMA_V1))
}

fn placement_pattern_rule(field: &str) -> Option<(&'static str, &'static str)> {
    if field == "placement" || field == "result_set" || field.starts_with("fill[") {
        return Some((
            "invalid_name",
            "must be lower-case letters, digits and single hyphens, 3 to 48 characters, e.g. \"home-top\"",
        ));
    }
    (field == "name").then_some((
        "invalid_arm_name",
        "must be lower-case letters, digits and single hyphens, at most 32 characters, e.g. \"control\"",
    ))
}

fn rule_problems(value: &Value) -> Vec<Problem> {
    let Some(placement) = value.as_object() else {
        return Vec::new();
    };
    let experiment = placement.get("experiment").and_then(Value::as_object);
    let mut problems = Vec::new();
    match (placement.contains_key("result_set"), experiment.is_some()) {
        (false, false) => problems.push(Problem::new(
            "$",
            "nothing_to_serve",
            "the placement serves nothing: give a result_set, or an experiment",
        )),
        (true, true) => problems.push(Problem::new(
            "$.result_set",
            "result_set_and_experiment",
            "with an experiment every user no rule matches takes part in it, so result_set would never be served; remove it",
        )),
        _ => {}
    }
    if let Some(experiment) = experiment {
        problems.extend(experiment_problems(experiment));
    }
    problems.extend(arm_name_problems(placement));
    let rules = placement.get("rules").and_then(Value::as_array);
    for (index, rule) in rules.into_iter().flatten().enumerate() {
        let attributes = rule.pointer("/when/attributes").and_then(Value::as_object);
        for (name, condition) in attributes.into_iter().flatten() {
            let path = join_path(&format!("$.rules[{index}].when.attributes"), name);
            problems.extend(attribute_problems(&path, name, condition));
        }
    }
    problems
}

fn experiment_problems(experiment: &serde_json::Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    let arms = experiment.get("arms").and_then(Value::as_array);
    match experiment.get("type").and_then(Value::as_str) {
        Some("interleaving") => {
            if arms.is_some_and(|arms| arms.len() != 2) {
                problems.push(Problem::new(
                    "$.experiment.arms",
                    "two_arms_needed",
                    "an interleaving test merges exactly two arms' lists; give two arms",
                ));
            }
            for (index, arm) in arms.into_iter().flatten().enumerate() {
                if arm.get("weight").is_some() {
                    problems.push(Problem::new(
                        format!("$.experiment.arms[{index}].weight"),
                        "not_for_interleaving",
                        "every interleaved list holds both arms' items, so an arm has no weight; remove it",
                    ));
                }
            }
        }
        Some("ab") => {
            if !experiment.contains_key("salt") {
                problems.push(Problem::new(
                    "$.experiment.salt",
                    "missing_field",
                    "experiment.salt is required for an A/B test: users are assigned by a hash of their id and the salt (keep it for the test's life)",
                ));
            }
            let weights: Vec<u64> = arms
                .into_iter()
                .flatten()
                .map(|arm| arm.get("weight").and_then(Value::as_u64).unwrap_or(1))
                .collect();
            if !weights.is_empty() && weights.iter().all(|w| *w == 0) {
                problems.push(Problem::new(
                    "$.experiment.arms",
                    "weights_all_zero",
                    "every arm's weight is 0, so no user could be assigned; give one arm a weight above 0",
                ));
            }
        }
        _ => {}
    }
    problems
}

/// Arm names are what answers and metrics name; two alike could not be told apart.
fn arm_name_problems(placement: &serde_json::Map<String, Value>) -> Vec<Problem> {
    let mut named: Vec<(String, String)> = Vec::new();
    let rules = placement.get("rules").and_then(Value::as_array);
    for (index, rule) in rules.into_iter().flatten().enumerate() {
        let name = match rule.get("name").and_then(Value::as_str) {
            Some(name) => name.to_owned(),
            None => format!("rule-{}", index + 1),
        };
        named.push((format!("$.rules[{index}].name"), name));
    }
    let arms = placement
        .get("experiment")
        .and_then(|e| e.get("arms"))
        .and_then(Value::as_array);
    for (index, arm) in arms.into_iter().flatten().enumerate() {
        if let Some(name) = arm.get("name").and_then(Value::as_str) {
            named.push((format!("$.experiment.arms[{index}].name"), name.to_owned()));
        }
    }
    if placement.contains_key("result_set") {
        named.push(("$.result_set".to_owned(), DEFAULT_ARM.to_owned()));
    }
    let mut seen = HashSet::new();
    named
        .into_iter()
        .filter(|(_, name)| !seen.insert(name.clone()))
        .map(|(path, name)| {
            Problem::new(
                path,
                "duplicate_arm",
                format!("another rule or arm is named \"{name}\" already (the result_set's answers are \"{DEFAULT_ARM}\"); give each a name of its own"),
            )
        })
        .collect()
}

fn attribute_problems(path: &str, name: &str, condition: &Value) -> Vec<Problem> {
    let mut problems = Vec::new();
    if !is_attribute_name(name) {
        problems.push(Problem::new(
            path,
            "invalid_attribute",
            format!("\"{name}\" cannot be a query-string attribute: use lower-case letters, digits and _, starting with a letter, at most {MAX_ATTRIBUTE_NAME_CHARS} characters (n is the list's length)"),
        ));
    }
    let number = |bound: &str| condition.get(bound).and_then(Value::as_f64);
    if condition.get("in").is_some() && (number("min").is_some() || number("max").is_some()) {
        problems.push(Problem::new(
            path,
            "mixed_condition",
            format!("{name}: give either a list of values (in) or a range (min, max), not both"),
        ));
    }
    if let (Some(min), Some(max)) = (number("min"), number("max")) {
        if min > max {
            problems.push(Problem::new(
                path,
                "bounds_inverted",
                format!(
                    "{name}: min ({min}) is greater than max ({max}), so no value could match; swap them"
                ),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::placement::ExperimentKind;

    fn ab() -> Value {
        json!({
            "schema_version": 1,
            "placement": "home-top",
            "rules": [{"name": "newcomers", "when": {"user": "new"}, "result_set": "popular"}],
            "experiment": {"type": "ab", "salt": "2026-12", "arms": [
                {"name": "control", "result_set": "spring-2026", "weight": 50},
                {"name": "candidate", "result_set": "spring-2026-b", "weight": 50}
            ]},
            "fill": ["popular"],
            "exclude_items": ["i-out-of-stock"]
        })
    }

    fn problems(value: &Value) -> Vec<(String, String)> {
        validate_placement(value.to_string().as_bytes())
            .unwrap_err()
            .into_iter()
            .map(|p| (p.path, p.code))
            .collect()
    }

    #[test]
    fn a_valid_placement_gets_its_defaults() {
        let placement = validate_placement(ab().to_string().as_bytes()).unwrap();
        assert_eq!(placement.n, 10);
        assert!(!placement.monitoring.enabled);
        let experiment = placement.experiment.as_ref().unwrap();
        assert_eq!(experiment.kind, ExperimentKind::Ab);
        let arms: Vec<(String, &str)> = placement.arms();
        assert_eq!(
            arms,
            [
                ("newcomers".to_owned(), "popular"),
                ("control".to_owned(), "spring-2026"),
                ("candidate".to_owned(), "spring-2026-b")
            ]
        );
    }

    #[test]
    fn every_problem_is_reported_at_once_with_its_path() {
        let mut value = ab();
        value["result_set"] = json!("spring-2026");
        value["colour"] = json!("blue");
        value["n"] = json!(0);
        value["experiment"]["arms"][1]["name"] = json!("control");
        value["experiment"].as_object_mut().unwrap().remove("salt");
        value["rules"][0]["when"]["attributes"] = json!({
            "Region": {"in": ["tokyo"]},
            "age": {"min": 40, "max": 20},
            "tier": {"in": ["gold"], "min": 1}
        });
        value["fill"] = json!(["Not A Name"]);
        let found = problems(&value);
        for expected in [
            ("$.result_set", "result_set_and_experiment"),
            ("$.colour", "unknown_field"),
            ("$.n", "out_of_range"),
            ("$.experiment.arms[1].name", "duplicate_arm"),
            ("$.experiment.salt", "missing_field"),
            ("$.rules[0].when.attributes.Region", "invalid_attribute"),
            ("$.rules[0].when.attributes.age", "bounds_inverted"),
            ("$.rules[0].when.attributes.tier", "mixed_condition"),
            ("$.fill[0]", "invalid_name"),
        ] {
            assert!(
                found.contains(&(expected.0.to_owned(), expected.1.to_owned())),
                "{expected:?} missing from {found:?}"
            );
        }
    }

    #[test]
    fn interleaving_takes_two_arms_without_weights() {
        let value = json!({
            "schema_version": 1, "placement": "item-detail",
            "experiment": {"type": "interleaving", "arms": [
                {"name": "a", "result_set": "model-a", "weight": 1},
                {"name": "b", "result_set": "model-b"},
                {"name": "c", "result_set": "model-c"}
            ]}
        });
        assert_eq!(
            problems(&value),
            [
                ("$.experiment.arms".to_owned(), "two_arms_needed".to_owned()),
                (
                    "$.experiment.arms[0].weight".to_owned(),
                    "not_for_interleaving".to_owned()
                )
            ]
        );
    }

    #[test]
    fn a_placement_must_serve_something_and_weigh_some_arm() {
        let nothing = json!({"schema_version": 1, "placement": "home-top"});
        assert_eq!(
            problems(&nothing),
            [("$".to_owned(), "nothing_to_serve".to_owned())]
        );
        let mut zero = ab();
        zero["experiment"]["arms"][0]["weight"] = json!(0);
        zero["experiment"]["arms"][1]["weight"] = json!(0);
        assert_eq!(
            problems(&zero),
            [("$.experiment.arms".to_owned(), "weights_all_zero".to_owned())]
        );
        let mut default_twice = json!({"schema_version": 1, "placement": "home-top", "result_set": "spring"});
        default_twice["rules"] =
            json!([{"name": "default", "when": {"user": "new"}, "result_set": "popular"}]);
        assert_eq!(
            problems(&default_twice),
            [("$.result_set".to_owned(), "duplicate_arm".to_owned())]
        );
    }

    #[test]
    fn attribute_names_are_query_string_names() {
        assert!(is_attribute_name("region"));
        assert!(is_attribute_name("device_type2"));
        for bad in ["n", "Region", "2x", "", "a-b", &"x".repeat(33)] {
            assert!(!is_attribute_name(bad), "{bad}");
        }
    }
}
