//! The example forms: every valid example passes, and every file in
//! `examples/forms/invalid/` yields the problem its name promises (`<code>--<what>.json`).

use std::path::{Path, PathBuf};

use recoflow_core::validation::{validate_form, ValidationRules};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/forms")
}

/// The local stack's data bucket, which the examples read from.
fn rules() -> ValidationRules {
    ValidationRules::from_allow_list("recoflow-data-000000000000")
        .with_image_repositories("000000000000.dkr.ecr.us-east-1.amazonaws.com/recsys")
}

fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    files.sort();
    files
}

#[test]
fn valid_examples_pass() {
    let files = json_files(&examples());
    assert!(files.len() >= 2);
    for file in files {
        let bytes = std::fs::read(&file).unwrap();
        if let Err(problems) = validate_form(&bytes, &rules()) {
            panic!("{} should be valid: {problems:#?}", file.display());
        }
    }
}

#[test]
fn every_invalid_example_yields_the_promised_problem() {
    let files = json_files(&examples().join("invalid"));
    assert!(files.len() >= 30, "the corpus has {} forms", files.len());
    for file in files {
        let name = file.file_stem().unwrap().to_string_lossy().into_owned();
        let (expected, _) = name
            .split_once("--")
            .unwrap_or_else(|| panic!("{name}: name must be <code>--<what>"));
        let bytes = std::fs::read(&file).unwrap();
        let problems = match validate_form(&bytes, &rules()) {
            Ok(_) => panic!("{name} was accepted"),
            Err(problems) => problems,
        };
        assert!(
            problems.iter().any(|p| p.code == expected),
            "{name}: expected {expected}, got {problems:#?}"
        );
        for problem in &problems {
            assert!(problem.path.starts_with('$'), "{name}: {problem:?}");
            assert!(problem.message.len() > 10, "{name}: {problem:?}");
        }
    }
}

#[test]
fn a_300_kib_form_is_refused_as_too_large() {
    let mut form = std::fs::read_to_string(examples().join("spring-tokyo-personalize.json")).unwrap();
    form.push_str(&" ".repeat(300 * 1024));
    let problems = validate_form(form.as_bytes(), &rules()).unwrap_err();
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].code, "too_large");
}
