//! What commands print: a [`Report`] holds both renderings (a table or text for people, one
//! JSON document for `--json`), its exit code, and the one-line reason for stderr when it is
//! not a success. Tables and durations are formatted here, once.

use std::time::Duration;

use serde_json::Value;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::exit::Exit;

pub struct Report {
    pub text: String,
    pub json: Value,
    pub exit: Exit,
    /// For stderr when `exit` is not a success.
    pub reason: Option<String>,
}

impl Report {
    pub fn ok(text: String, json: Value) -> Self {
        Self {
            text,
            json,
            exit: Exit::Success,
            reason: None,
        }
    }

    pub fn failed(text: String, json: Value, exit: Exit, reason: String) -> Self {
        Self {
            text,
            json,
            exit,
            reason: Some(reason),
        }
    }

    /// Prints the report the way `--json` asks; the exit code to end with.
    pub fn print(&self, json: bool) -> Exit {
        if json {
            println!("{}", serde_json::to_string_pretty(&self.json).unwrap_or_default());
        } else if !self.text.is_empty() {
            print!("{}", self.text);
            if !self.text.ends_with('\n') {
                println!();
            }
        }
        if let Some(reason) = &self.reason {
            eprintln!("recoflow: {reason}");
        }
        self.exit
    }
}

/// A plain-text table: columns as wide as their widest cell, two spaces apart.
pub struct Table {
    header: Vec<String>,
    rows: Vec<Vec<String>>,
}

impl Table {
    pub fn new(header: &[&str]) -> Self {
        Self {
            header: header.iter().map(|h| h.to_string()).collect(),
            rows: Vec::new(),
        }
    }

    pub fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn render(&self) -> String {
        let columns = self.header.len();
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for row in &self.rows {
            for (i, cell) in row.iter().enumerate().take(columns) {
                widths[i] = widths[i].max(cell.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let mut out = String::new();
            for (i, cell) in cells.iter().enumerate().take(columns) {
                if i + 1 == columns {
                    out.push_str(cell);
                } else {
                    out.push_str(cell);
                    out.push_str(&" ".repeat(widths[i] - cell.chars().count() + 2));
                }
            }
            out.trim_end().to_owned() + "\n"
        };
        let mut out = line(&self.header);
        for row in &self.rows {
            out.push_str(&line(row));
        }
        out
    }
}

/// `95 s` → `1m 35s`; `7400 s` → `2h 03m`.
pub fn duration(elapsed: Duration) -> String {
    let s = elapsed.as_secs();
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m {:02}s", s / 60, s % 60),
        3600..=86_399 => format!("{}h {:02}m", s / 3600, (s % 3600) / 60),
        _ => format!("{}d {:02}h", s / 86_400, (s % 86_400) / 3600),
    }
}

pub fn parse_time(text: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(text, &Rfc3339).ok()
}

/// Time from `from` (RFC 3339) to `to`; nothing for an unreadable time stamp.
pub fn between(from: &str, to: OffsetDateTime) -> Option<Duration> {
    let from = parse_time(from)?;
    Some(Duration::from_secs((to - from).whole_seconds().max(0) as u64))
}

/// How old a result set's current version is, from an answer's `version_age_seconds`.
pub fn age(answer: &Value) -> String {
    answer
        .get("version_age_seconds")
        .and_then(Value::as_u64)
        .map(|s| duration(Duration::from_secs(s)))
        .unwrap_or_else(|| "-".to_owned())
}

/// A field of a JSON answer as text (`-` when absent), for table cells.
pub fn field(value: &Value, name: &str) -> String {
    match value.get(name) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => "-".to_owned(),
        Some(other) => other.to_string(),
    }
}

/// A text field of a JSON answer; empty when absent.
pub fn text<'a>(value: &'a Value, name: &str) -> &'a str {
    value.get(name).and_then(Value::as_str).unwrap_or("")
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tables_align_their_columns() {
        let mut table = Table::new(&["JOB ID", "STATUS", "NAME"]);
        table.row(vec!["a-1".into(), "SUCCEEDED".into(), "spring".into()]);
        table.row(vec!["job-long-id".into(), "FAILED".into(), "ツール".into()]);
        assert_eq!(
            table.render(),
            "JOB ID       STATUS     NAME\n\
             a-1          SUCCEEDED  spring\n\
             job-long-id  FAILED     ツール\n"
        );
        assert!(Table::new(&["A"]).is_empty());
    }

    #[test]
    fn durations_read_like_a_person_says_them() {
        assert_eq!(duration(Duration::from_secs(4)), "4s");
        assert_eq!(duration(Duration::from_secs(95)), "1m 35s");
        assert_eq!(duration(Duration::from_secs(7_400)), "2h 03m");
        assert_eq!(duration(Duration::from_secs(90_000)), "1d 01h");
    }

    #[test]
    fn times_between_stamps() {
        let to = parse_time("2026-11-24T10:01:05Z").unwrap();
        assert_eq!(
            between("2026-11-24T10:00:00.250Z", to),
            Some(Duration::from_secs(64))
        );
        assert_eq!(between("yesterday", to), None);
        assert_eq!(between("2026-11-24T10:02:00Z", to), Some(Duration::ZERO));
    }

    #[test]
    fn fields_become_cells() {
        let job = json!({"a": "x", "n": 3, "z": null});
        assert_eq!(
            (
                field(&job, "a"),
                field(&job, "n"),
                field(&job, "z"),
                field(&job, "q")
            ),
            ("x".into(), "3".into(), "-".into(), "-".into())
        );
    }
}
