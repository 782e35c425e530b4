//! The form's rules about what it makes (`output`), the segment's conditions on any column
//! (`segment.attributes`) and the fallback segments' dimensions (`fallback`): run on the raw
//! value with the other rules, so every problem is reported at once.

use serde_json::{Map, Value};

use crate::document::join_path;
use crate::form::{
    Output, AUDIENCE_FILTER_RECIPE, AUDIENCE_ITEMS_RECIPE, DEFAULT_AUDIENCE_SIZE, DEFAULT_FALLBACK_ATTRIBUTES,
};
use crate::segment::{AGE_COLUMN, GENDER_COLUMN, REGION_COLUMN, USER_ID_COLUMN};
use crate::validation::FormProblem;

/// What a column name must look like (the schema's `column_name`).
pub const COLUMN_RULE: &str =
    "must be a column name as the file's header gives it: a letter or _, then letters, digits or _ (at most 64)";

type Object = Map<String, Value>;

/// Fields only some outputs have, and those outputs. A field of another output would be
/// ignored without a word; it is refused instead, naming the output it belongs to.
const OUTPUT_FIELDS: [(&str, &[Output]); 5] = [
    ("audience", &[Output::Audience]),
    ("fallback", &[Output::UserItems]),
    ("quality_gate", &[Output::UserItems]),
    ("num_results", &[Output::UserItems, Output::SimilarItems]),
    ("segment", &[Output::UserItems, Output::Audience]),
];

/// The form's output; `None` when it is not one (the schema says so).
fn output_of(form: &Object) -> Option<Output> {
    match form.get("output") {
        None => Some(Output::UserItems),
        Some(value) => serde_json::from_value(value.clone()).ok(),
    }
}

fn quoted_list<'a>(names: impl IntoIterator<Item = &'a str>) -> String {
    names
        .into_iter()
        .map(|name| format!("\"{name}\""))
        .collect::<Vec<_>>()
        .join(" or ")
}

/// Fields of another output, an audience without its block, and recipes that cannot make the
/// form's output.
pub fn output_problems(form: &Object) -> Vec<FormProblem> {
    let Some(output) = output_of(form) else {
        return Vec::new();
    };
    let mut problems: Vec<FormProblem> = OUTPUT_FIELDS
        .iter()
        .filter(|(field, outputs)| form.contains_key(*field) && !outputs.contains(&output))
        .map(|(field, outputs)| {
            let belongs = quoted_list(outputs.iter().map(|o| o.as_str()));
            FormProblem::new(
                format!("$.{field}"),
                "field_not_for_output",
                format!(
                    "{field} is for output {belongs}, but this form's output is \"{}\"; remove {field} or set output to {belongs}",
                    output.as_str()
                ),
            )
        })
        .collect();
    let audience = form.get("audience").and_then(Value::as_object);
    if output == Output::Audience {
        match audience {
            None => problems.push(FormProblem::new(
                "$.audience",
                "missing_field",
                "output is \"audience\": add an audience block naming the items (or the item_filter) it is for",
            )),
            Some(audience) => problems.extend(audience_problems(audience, form)),
        }
    }
    problems.extend(recipe_problem(form, output, audience));
    problems
}

/// A Personalize recipe that makes another output, or another kind of audience.
fn recipe_problem(form: &Object, output: Output, audience: Option<&Object>) -> Option<FormProblem> {
    let recipe = form.get("personalize")?.get("recipe")?.as_str()?;
    let makes = Output::of_recipe(recipe)?;
    let message = if makes != output {
        format!(
            "recipe \"{recipe}\" makes {}, but this form's output is \"{}\"; choose {} (or leave recipe out), or set output to \"{}\"",
            makes.as_str(),
            output.as_str(),
            quoted_list(output.recipes().iter().copied()),
            makes.as_str()
        )
    } else {
        let filtered = audience?.contains_key("item_filter");
        let wanted = if filtered {
            AUDIENCE_FILTER_RECIPE
        } else {
            AUDIENCE_ITEMS_RECIPE
        };
        if recipe == wanted {
            return None;
        }
        let given = if filtered { "an item_filter" } else { "item ids" };
        format!("recipe \"{recipe}\" cannot rank users for {given}; use \"{wanted}\" (or leave recipe out)")
    };
    Some(FormProblem::new(
        "$.personalize.recipe",
        "recipe_not_for_output",
        message,
    ))
}

/// An audience names exactly one of items and item_filter, at most one of size and
/// min_score, and a filter needs the items file it filters.
fn audience_problems(audience: &Object, form: &Object) -> Vec<FormProblem> {
    let mut problems = Vec::new();
    match (audience.contains_key("items"), audience.contains_key("item_filter")) {
        (false, false) => problems.push(FormProblem::new(
            "$.audience.items",
            "missing_field",
            "audience needs items (item ids, one audience each) or item_filter (items-file column → values)",
        )),
        (true, true) => problems.push(FormProblem::new(
            "$.audience.item_filter",
            "choose_one",
            "audience has both items and item_filter; keep one of them",
        )),
        (false, true) if !dataset_has(form, "items") => problems.push(FormProblem::new(
            "$.dataset.items",
            "item_filter_needs_items",
            "audience.item_filter selects items by their attributes, so dataset.items (the items CSV) is required",
        )),
        _ => {}
    }
    if audience.contains_key("size") && audience.contains_key("min_score") {
        problems.push(FormProblem::new(
            "$.audience.min_score",
            "choose_one",
            format!("audience has both size and min_score; keep one of them (neither keeps the best {DEFAULT_AUDIENCE_SIZE} users)"),
        ));
    }
    problems
}

/// Whether the form's dataset names this file (a missing dataset is the schema's problem).
fn dataset_has(form: &Object, file: &str) -> bool {
    form.get("dataset")
        .and_then(Value::as_object)
        .is_none_or(|dataset| dataset.contains_key(file))
}

/// The users file's id column is no attribute to select or fall back on.
fn id_column_problem(path: &str, column: &str) -> Option<FormProblem> {
    column.eq_ignore_ascii_case(USER_ID_COLUMN).then(|| {
        FormProblem::new(
            path,
            "invalid_column",
            format!("{column} is the users' id, not an attribute; name another column"),
        )
    })
}

/// The kinds of condition one `segment.attributes` entry gives (`in`, `not_in`, `min/max`).
fn condition_kinds(condition: &Object) -> Vec<&'static str> {
    let mut kinds = Vec::new();
    for (key, kind) in [
        ("in", "in"),
        ("not_in", "not_in"),
        ("min", "min/max"),
        ("max", "min/max"),
    ] {
        if condition.contains_key(key) && !kinds.contains(&kind) {
            kinds.push(kind);
        }
    }
    kinds
}

/// Conditions of `segment.attributes`: one kind each, ranges in order, each column once (also
/// against the segment's own gender, age and region).
pub fn attribute_problems(form: &Object) -> Vec<FormProblem> {
    let Some(segment) = form.get("segment").and_then(Value::as_object) else {
        return Vec::new();
    };
    let Some(conditions) = segment.get("attributes").and_then(Value::as_object) else {
        return Vec::new();
    };
    let by_field = [
        ("gender", GENDER_COLUMN),
        ("age", AGE_COLUMN),
        ("region", REGION_COLUMN),
    ];
    let mut problems = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (column, condition) in conditions {
        let path = join_path("$.segment.attributes", column);
        problems.extend(id_column_problem(&path, column));
        let field = by_field
            .iter()
            .find(|(field, named)| segment.contains_key(*field) && named.eq_ignore_ascii_case(column));
        if let Some((field, _)) = field {
            problems.push(FormProblem::new(
                &path,
                "duplicate_values",
                format!("segment.{field} already sets a condition on {column}; keep one of them"),
            ));
        } else if seen.iter().any(|c| c.eq_ignore_ascii_case(column)) {
            problems.push(FormProblem::new(
                &path,
                "duplicate_values",
                format!("{column} is named twice in segment.attributes (names are compared in any case); keep one"),
            ));
        }
        seen.push(column);
        let Some(condition) = condition.as_object() else {
            continue;
        };
        let kinds = condition_kinds(condition);
        if kinds.len() > 1 {
            problems.push(FormProblem::new(
                &path,
                "choose_one",
                format!(
                    "the condition on {column} mixes {}; give one of in, not_in or min/max",
                    kinds.join(" and ")
                ),
            ));
        }
        let bound = |name: &str| condition.get(name).and_then(Value::as_f64);
        if let (Some(min), Some(max)) = (bound("min"), bound("max")) {
            if min > max {
                problems.push(FormProblem::new(
                    &path,
                    "bounds_inverted",
                    format!("segment.attributes.{column}.min ({min}) is greater than its max ({max}): no user could match; swap them"),
                ));
            }
        }
    }
    problems
}

/// The fallback's columns (each once, not the id), bands only of those columns and increasing,
/// and a users file to read them from.
pub fn fallback_problems(form: &Object) -> Vec<FormProblem> {
    let Some(fallback) = form.get("fallback").and_then(Value::as_object) else {
        return Vec::new();
    };
    let mut problems = Vec::new();
    if !dataset_has(form, "users") {
        problems.push(FormProblem::new(
            "$.dataset.users",
            "fallback_needs_users",
            "fallback segments are made of the users' attributes, so dataset.users (the users CSV) is required",
        ));
    }
    let attributes: Vec<&str> = match fallback.get("attributes").and_then(Value::as_array) {
        Some(list) => list.iter().filter_map(Value::as_str).collect(),
        None => DEFAULT_FALLBACK_ATTRIBUTES.to_vec(),
    };
    for (i, column) in attributes.iter().enumerate() {
        let path = format!("$.fallback.attributes[{i}]");
        problems.extend(id_column_problem(&path, column));
        if attributes[..i].iter().any(|c| c.eq_ignore_ascii_case(column)) {
            problems.push(FormProblem::new(
                path,
                "duplicate_values",
                format!("{column} is listed twice in fallback.attributes (names are compared in any case); keep one"),
            ));
        }
    }
    let bands = fallback.get("bands").and_then(Value::as_object);
    for (column, bounds) in bands.into_iter().flatten() {
        let path = join_path("$.fallback.bands", column);
        if !attributes.iter().any(|c| c.eq_ignore_ascii_case(column)) {
            problems.push(FormProblem::new(
                &path,
                "band_without_attribute",
                format!(
                    "fallback.bands names {column}, which is not one of the fallback's attributes ({}); add it to fallback.attributes or remove its bands",
                    attributes.join(", ")
                ),
            ));
        }
        let bounds: Vec<i64> = bounds
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_i64)
            .collect();
        if bounds.windows(2).any(|pair| pair[0] >= pair[1]) {
            problems.push(FormProblem::new(
                path,
                "bands_not_increasing",
                format!("the bands of {column} must be lower bounds in increasing order, each once, e.g. [20, 30, 40]"),
            ));
        }
    }
    problems
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::form::{AttributeCondition, AudienceCut, AudienceTarget, Output};
    use crate::validation::{validate_form, FormProblem, ValidationRules};

    fn form(extra: serde_json::Value) -> serde_json::Value {
        let mut form = json!({
            "schema_version": 1, "job_name": "coat-buyers", "submitted_by": "ana@example.com",
            "result_set": "coats", "backend": "personalize",
            "dataset": {"interactions": "s3://data/i.csv", "users": "s3://data/u.csv"},
            "personalize": {}
        });
        for (key, value) in extra.as_object().unwrap() {
            form[key] = value.clone();
        }
        form
    }

    fn check(form: &serde_json::Value) -> Result<crate::form::JobForm, Vec<FormProblem>> {
        validate_form(
            form.to_string().as_bytes(),
            &ValidationRules::from_allow_list("data"),
        )
    }

    fn found(form: &serde_json::Value) -> Vec<(String, String)> {
        check(form)
            .unwrap_err()
            .into_iter()
            .map(|p| (p.path, p.code))
            .collect()
    }

    fn pair(path: &str, code: &str) -> (String, String) {
        (path.to_owned(), code.to_owned())
    }

    #[test]
    fn old_forms_make_user_items_with_today_s_recipe() {
        let old = check(&form(json!({}))).unwrap();
        assert_eq!(old.output, Output::UserItems);
        assert_eq!(old.personalize.unwrap().recipe, "aws-user-personalization");
        assert!(old.audience.is_none() && old.fallback.is_none());
    }

    #[test]
    fn an_audience_gets_the_recipe_of_its_target_and_a_default_size() {
        let items = check(&form(
            json!({"output": "audience", "audience": {"items": ["i042"]}}),
        ))
        .unwrap();
        let audience = items.audience.as_ref().unwrap();
        assert_eq!(audience.target(), AudienceTarget::Items(&["i042".to_owned()]));
        assert_eq!(audience.cut(), AudienceCut::Size(10_000));
        assert_eq!(items.personalize.unwrap().recipe, "aws-item-affinity");
        let mut filtered = form(json!({"output": "audience",
            "audience": {"item_filter": {"CATEGORY": ["coat"]}, "min_score": 0.2}}));
        filtered["dataset"]["items"] = json!("s3://data/items.csv");
        let filtered = check(&filtered).unwrap();
        assert_eq!(
            filtered.audience.as_ref().unwrap().cut(),
            AudienceCut::MinScore(0.2)
        );
        assert_eq!(
            filtered.personalize.unwrap().recipe,
            "aws-item-attribute-affinity"
        );
        let similar = check(&form(json!({"output": "similar_items"}))).unwrap();
        assert_eq!(similar.personalize.unwrap().recipe, "aws-similar-items");
    }

    #[test]
    fn fields_of_another_output_are_refused_naming_the_output() {
        let problems = check(&form(json!({"audience": {"items": ["i1"]},
            "fallback": {"attributes": ["GENDER"]}, "output": "user_items"})))
        .unwrap_err();
        assert_eq!(problems.len(), 1, "{problems:#?}");
        assert_eq!(
            (problems[0].path.as_str(), problems[0].code.as_str()),
            ("$.audience", "field_not_for_output")
        );
        assert!(
            problems[0].message.contains("\"audience\""),
            "{}",
            problems[0].message
        );
        let similar = found(&form(
            json!({"output": "similar_items", "segment": {"gender": ["F"]},
            "fallback": {"min_users": 3}, "quality_gate": {"min": {"users_personalized": 1}}}),
        ));
        for field in ["$.segment", "$.fallback", "$.quality_gate"] {
            assert!(
                similar.contains(&pair(field, "field_not_for_output")),
                "{field}: {similar:?}"
            );
        }
        let audience = found(&form(json!({"output": "audience", "num_results": 5})));
        assert!(
            audience.contains(&pair("$.num_results", "field_not_for_output")),
            "{audience:?}"
        );
        assert!(
            audience.contains(&pair("$.audience", "missing_field")),
            "{audience:?}"
        );
    }

    #[test]
    fn a_recipe_that_cannot_make_the_output_is_refused() {
        let mut similar_as_lists = form(json!({}));
        similar_as_lists["personalize"]["recipe"] = json!("aws-similar-items");
        let problems = check(&similar_as_lists).unwrap_err();
        assert_eq!(problems[0].path, "$.personalize.recipe");
        assert_eq!(problems[0].code, "recipe_not_for_output");
        assert!(
            problems[0].message.contains("similar_items"),
            "{}",
            problems[0].message
        );
        let mut wrong_kind = form(json!({"output": "audience", "audience": {"items": ["i1"]}}));
        wrong_kind["personalize"]["recipe"] = json!("aws-item-attribute-affinity");
        assert_eq!(
            found(&wrong_kind),
            [pair("$.personalize.recipe", "recipe_not_for_output")]
        );
        let mut sims = form(json!({"output": "similar_items"}));
        sims["personalize"]["recipe"] = json!("aws-sims");
        assert_eq!(check(&sims).unwrap().personalize.unwrap().recipe, "aws-sims");
    }

    #[test]
    fn an_audience_names_one_target_and_one_cut() {
        let both = found(&form(json!({"output": "audience",
            "audience": {"items": ["i1"], "item_filter": {"CATEGORY": ["coat"]}, "size": 10, "min_score": 0.1}})));
        assert!(
            both.contains(&pair("$.audience.item_filter", "choose_one")),
            "{both:?}"
        );
        assert!(
            both.contains(&pair("$.audience.min_score", "choose_one")),
            "{both:?}"
        );
        let neither = found(&form(json!({"output": "audience", "audience": {"size": 10}})));
        assert_eq!(neither, [pair("$.audience.items", "missing_field")]);
        let no_items_file = found(&form(json!({"output": "audience",
            "audience": {"item_filter": {"CATEGORY": ["coat"]}}})));
        assert_eq!(
            no_items_file,
            [pair("$.dataset.items", "item_filter_needs_items")]
        );
        let bad_column = found(&form(
            json!({"output": "audience", "audience": {"item_filter": {"the category": ["coat"]}}}),
        ));
        assert!(
            bad_column.contains(&pair(
                "$.audience.item_filter[\"the category\"]",
                "invalid_column"
            )),
            "{bad_column:?}"
        );
    }

    #[test]
    fn segment_attributes_take_one_condition_each_on_any_column_once() {
        let valid = check(&form(json!({"segment": {"gender": ["F"], "attributes": {
            "PREFECTURE": {"in": ["東京都"]}, "member_rank": {"not_in": ["trial"]}, "POINTS": {"min": 100}}}})))
        .unwrap();
        let attributes = &valid.segment.unwrap().attributes;
        assert_eq!(
            attributes["POINTS"],
            AttributeCondition::Range {
                min: Some(100.0),
                max: None
            }
        );
        assert_eq!(
            attributes["member_rank"],
            AttributeCondition::NotIn {
                not_in: vec!["trial".into()]
            }
        );
        let problems = found(&form(json!({"segment": {"gender": ["F"], "attributes": {
            "gender": {"in": ["M"]}, "RANK": {"in": ["gold"], "min": 1}, "rank": {"in": ["x"]},
            "POINTS": {"min": 10, "max": 5}, "USER_ID": {"in": ["u1"]}, "9LIVES": {"in": ["x"]}}}})));
        for expected in [
            pair("$.segment.attributes.gender", "duplicate_values"),
            pair("$.segment.attributes.RANK", "choose_one"),
            pair("$.segment.attributes.rank", "duplicate_values"),
            pair("$.segment.attributes.POINTS", "bounds_inverted"),
            pair("$.segment.attributes.USER_ID", "invalid_column"),
            pair("$.segment.attributes.9LIVES", "invalid_column"),
        ] {
            assert!(
                problems.contains(&expected),
                "{expected:?} missing from {problems:?}"
            );
        }
    }

    #[test]
    fn fallback_dimensions_are_columns_with_increasing_bands_and_a_users_file() {
        let valid = check(&form(
            json!({"fallback": {"attributes": ["PREFECTURE", "MEMBER_RANK", "AGE"],
            "bands": {"AGE": [18, 30, 50]}, "min_users": 3}}),
        ))
        .unwrap();
        assert_eq!(valid.fallback.unwrap().min_users, 3);
        let mut without_users = form(json!({"fallback": {
            "attributes": ["GENDER", "gender", "USER_ID", "A", "B"],
            "bands": {"POINTS": [10, 5]}}}));
        without_users["dataset"].as_object_mut().unwrap().remove("users");
        let problems = found(&without_users);
        for expected in [
            pair("$.dataset.users", "fallback_needs_users"),
            pair("$.fallback.attributes", "too_many"),
            pair("$.fallback.attributes[1]", "duplicate_values"),
            pair("$.fallback.attributes[2]", "invalid_column"),
            pair("$.fallback.bands.POINTS", "band_without_attribute"),
            pair("$.fallback.bands.POINTS", "bands_not_increasing"),
        ] {
            assert!(
                problems.contains(&expected),
                "{expected:?} missing from {problems:?}"
            );
        }
        let default_age = found(&form(json!({"fallback": {"bands": {"AGE": [20, 20]}}})));
        assert_eq!(
            default_age,
            [pair("$.fallback.bands.AGE", "bands_not_increasing")]
        );
    }
}
