//! The line of a problem's JSON path (`$.segment.age.min`, `$.container.hyperparameters["a b"]`,
//! `$.segment.region[1]`) in the form's text, for editors and CI annotations. Paths are written
//! the way `recoflow_core::validation` writes them. A path that is not in the file (a missing
//! field) gets the line of its nearest enclosing value.

use std::collections::HashMap;

use serde_json::Value;

pub struct Lines {
    by_path: HashMap<String, usize>,
    /// Where a form that is not JSON (or not UTF-8) breaks; every problem is there.
    broken_at: Option<usize>,
}

impl Lines {
    pub fn of(bytes: &[u8]) -> Self {
        let text = match std::str::from_utf8(bytes) {
            Ok(text) => text,
            Err(err) => {
                let line = bytes[..err.valid_up_to()].iter().filter(|b| **b == b'\n').count() + 1;
                return Self {
                    by_path: HashMap::new(),
                    broken_at: Some(line),
                };
            }
        };
        let text = text.strip_prefix('\u{feff}').unwrap_or(text);
        let broken_at = match serde_json::from_str::<Value>(text) {
            Ok(_) => None,
            Err(err) if err.line() > 0 => Some(err.line()),
            Err(_) => Some(1),
        };
        let mut scanner = Scanner {
            text: text.as_bytes(),
            at: 0,
            line: 1,
            by_path: HashMap::new(),
        };
        if broken_at.is_none() {
            scanner.skip_space();
            scanner.value("$".to_owned());
        }
        Self {
            by_path: scanner.by_path,
            broken_at,
        }
    }

    pub fn line(&self, path: &str) -> Option<usize> {
        if let Some(line) = self.broken_at {
            return Some(line);
        }
        let mut path = path;
        loop {
            if let Some(line) = self.by_path.get(path) {
                return Some(*line);
            }
            path = parent(path)?;
        }
    }
}

/// `$.a.b` → `$.a`; `$.a[0]` → `$.a`; `$` → none.
fn parent(path: &str) -> Option<&str> {
    if path == "$" {
        return None;
    }
    // A bracketed name may hold dots: cut at the last `[` when the path ends with `]`.
    let cut = if path.ends_with(']') {
        path.rfind('[')
    } else {
        path.rfind('.')
    };
    cut.map(|i| &path[..i]).filter(|p| !p.is_empty())
}

/// The path of member `name` of `parent`, as the validation writes it.
fn member_path(parent: &str, name: &str) -> String {
    let plain = !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
    if plain {
        format!("{parent}.{name}")
    } else {
        format!("{parent}[{}]", Value::from(name))
    }
}

/// Walks JSON text that is known to be valid, noting the line where each value (or, for an
/// object member, its name) starts.
struct Scanner<'a> {
    text: &'a [u8],
    at: usize,
    line: usize,
    by_path: HashMap<String, usize>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.text.get(self.at).copied()
    }

    fn bump(&mut self) {
        if self.peek() == Some(b'\n') {
            self.line += 1;
        }
        self.at += 1;
    }

    fn skip_space(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t' | b'\r' | b'\n')) {
            self.bump();
        }
    }

    fn value(&mut self, path: String) {
        self.by_path.entry(path.clone()).or_insert(self.line);
        match self.peek() {
            Some(b'{') => self.object(&path),
            Some(b'[') => self.array(&path),
            Some(b'"') => {
                self.string();
            }
            _ => {
                while matches!(self.peek(), Some(c) if !matches!(c, b',' | b'}' | b']' | b' ' | b'\t' | b'\r' | b'\n'))
                {
                    self.bump();
                }
            }
        }
    }

    fn object(&mut self, path: &str) {
        self.bump();
        loop {
            self.skip_space();
            match self.peek() {
                Some(b'"') => {
                    let line = self.line;
                    let name = self.string();
                    let member = member_path(path, &name);
                    self.by_path.insert(member.clone(), line);
                    self.skip_space();
                    self.bump(); // ':'
                    self.skip_space();
                    self.value(member);
                }
                Some(b',') => self.bump(),
                Some(b'}') | None => {
                    self.bump();
                    return;
                }
                Some(_) => self.bump(),
            }
        }
    }

    fn array(&mut self, path: &str) {
        self.bump();
        let mut index = 0;
        loop {
            self.skip_space();
            match self.peek() {
                Some(b',') => {
                    self.bump();
                    index += 1;
                }
                Some(b']') | None => {
                    self.bump();
                    return;
                }
                Some(_) => self.value(format!("{path}[{index}]")),
            }
        }
    }

    /// Reads a string literal and decodes it (escapes included).
    fn string(&mut self) -> String {
        let start = self.at;
        self.bump();
        while let Some(c) = self.peek() {
            match c {
                b'\\' => {
                    self.bump();
                    self.bump();
                }
                b'"' => {
                    self.bump();
                    break;
                }
                _ => self.bump(),
            }
        }
        serde_json::from_slice(&self.text[start..self.at]).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORM: &str = r#"{
  "schema_version": 1,
  "segment": {
    "gender": ["F",
               "M"],
    "age": { "min": 40, "max": 20 }
  },
  "container": {
    "hyperparameters": {
      "a.b c": 3
    }
  },
  "note": "brace } and \" quote"
}"#;

    #[test]
    fn paths_find_their_lines() {
        let lines = Lines::of(FORM.as_bytes());
        assert_eq!(lines.line("$"), Some(1));
        assert_eq!(lines.line("$.schema_version"), Some(2));
        assert_eq!(lines.line("$.segment"), Some(3));
        assert_eq!(lines.line("$.segment.gender[0]"), Some(4));
        assert_eq!(lines.line("$.segment.gender[1]"), Some(5));
        assert_eq!(lines.line("$.segment.age"), Some(6));
        assert_eq!(lines.line("$.segment.age.min"), Some(6));
        assert_eq!(lines.line("$.container.hyperparameters[\"a.b c\"]"), Some(10));
        assert_eq!(lines.line("$.note"), Some(13));
    }

    #[test]
    fn a_missing_field_points_at_its_parent() {
        let lines = Lines::of(FORM.as_bytes());
        assert_eq!(lines.line("$.segment.region"), Some(3));
        assert_eq!(lines.line("$.dataset.interactions"), Some(1));
        assert_eq!(lines.line("$.container.hyperparameters[\"x.y\"]"), Some(9));
    }

    #[test]
    fn broken_forms_point_where_they_break() {
        assert_eq!(Lines::of(b"{\n  \"a\": 1,\n}\n").line("$"), Some(3));
        assert_eq!(Lines::of(b"{\n\"a\": \"caf\xe9\"}").line("$"), Some(2));
        assert_eq!(Lines::of(b"").line("$"), Some(1));
    }

    /// The paths core's validation writes are the ones found here: every problem of the
    /// invalid examples whose value is in the file is found at its own path, not a parent's.
    #[test]
    fn the_validations_paths_are_found_exactly() {
        use recoflow_core::validation::{validate_form, ValidationRules};
        // Problems about something absent point at where it would go.
        const ABSENT: [&str; 7] = [
            "missing_field",
            "missing_backend_block",
            "segment_needs_users",
            "fallback_needs_users",
            "item_filter_needs_items",
            "not_json",
            "not_utf8",
        ];
        let rules = ValidationRules::from_allow_list("recoflow-data-000000000000")
            .with_image_repositories("000000000000.dkr.ecr.us-east-1.amazonaws.com/recsys");
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/forms/invalid");
        let mut checked = 0;
        for entry in std::fs::read_dir(dir).unwrap() {
            let bytes = std::fs::read(entry.unwrap().path()).unwrap();
            let lines = Lines::of(&bytes);
            for problem in validate_form(&bytes, &rules).unwrap_err() {
                if !ABSENT.contains(&problem.code.as_str()) && problem.path != "$" {
                    assert!(lines.by_path.contains_key(&problem.path), "{problem:?}");
                    checked += 1;
                }
            }
        }
        assert!(checked >= 25, "{checked}");
    }

    #[test]
    fn parents() {
        assert_eq!(parent("$.a.b"), Some("$.a"));
        assert_eq!(parent("$.a[3]"), Some("$.a"));
        assert_eq!(parent("$.a[\"x.y\"]"), Some("$.a"));
        assert_eq!(parent("$"), None);
    }
}
