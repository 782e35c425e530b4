//! A small streaming CSV reader (RFC 4180 quoting) for Personalize-style data files.
//!
//! Records are read one at a time into a reused buffer, so a 10 GB interactions file costs
//! no more memory than a 10 KB one. Errors carry file, line and column.

use crate::error::{Error, Result};
use std::fs::File;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};

pub struct CsvReader<R> {
    reader: R,
    path: PathBuf,
    /// Physical line (1-based) where the current record starts.
    line: u64,
    next_line: u64,
    header: Vec<String>,
    record: String,
}

impl CsvReader<BufReader<File>> {
    pub fn open(path: &Path) -> Result<Self> {
        let file = File::open(path).map_err(Error::io("cannot open", path))?;
        CsvReader::new(BufReader::with_capacity(64 * 1024, file), path)
    }
}

impl<R: BufRead> CsvReader<R> {
    /// Reads the header row; column names are upper-cased (Personalize's convention), and a
    /// UTF-8 byte-order mark from spreadsheet exports is ignored.
    pub fn new(reader: R, path: &Path) -> Result<Self> {
        let mut csv = CsvReader {
            reader,
            path: path.to_path_buf(),
            line: 0,
            next_line: 1,
            header: Vec::new(),
            record: String::new(),
        };
        let mut header = Vec::new();
        if !csv.next_record_raw(&mut header)? {
            return Err(csv.error(None, "file is empty; expected a header row".into()));
        }
        if let Some(first) = header.first_mut() {
            *first = first.trim_start_matches('\u{feff}').to_string();
        }
        csv.header = header
            .into_iter()
            .map(|h| h.trim().to_ascii_uppercase())
            .collect();
        Ok(csv)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn line(&self) -> u64 {
        self.line
    }

    pub fn header(&self) -> &[String] {
        &self.header
    }

    pub fn column(&self, name: &str) -> Option<usize> {
        self.header.iter().position(|h| h == name)
    }

    /// Index of a column the file must have, or an error naming what was found instead.
    pub fn require(&self, name: &str) -> Result<usize> {
        self.column(name).ok_or_else(|| Error::Data {
            path: self.path.clone(),
            line: 1,
            column: Some(name.to_string()),
            message: format!(
                "required column is missing; header has [{}]",
                self.header.join(",")
            ),
        })
    }

    pub fn error(&self, column: Option<&str>, message: String) -> Error {
        Error::Data {
            path: self.path.clone(),
            line: self.line,
            column: column.map(str::to_string),
            message,
        }
    }

    /// Reads the next data record into `fields`; `false` at end of file. Blank lines are
    /// skipped; a record with a different number of fields than the header is an error.
    pub fn next_record(&mut self, fields: &mut Vec<String>) -> Result<bool> {
        if !self.next_record_raw(fields)? {
            return Ok(false);
        }
        if fields.len() != self.header.len() {
            return Err(self.error(
                None,
                format!(
                    "expected {} fields (as in the header), found {}",
                    self.header.len(),
                    fields.len()
                ),
            ));
        }
        Ok(true)
    }

    fn next_record_raw(&mut self, fields: &mut Vec<String>) -> Result<bool> {
        self.record.clear();
        loop {
            let start = self.record.len();
            let n = self.reader.read_line(&mut self.record).map_err(|e| Error::Data {
                path: self.path.clone(),
                line: self.next_line,
                column: None,
                message: format!("cannot read line: {e}"),
            })?;
            if n == 0 {
                if self.record.is_empty() {
                    return Ok(false);
                }
                return Err(self.error(
                    None,
                    "quoted field never closed (a stray '\"' in this record?); reached end of file".into(),
                ));
            }
            if start == 0 {
                self.line = self.next_line;
            }
            self.next_line += 1;
            if start == 0 && self.record.trim().is_empty() {
                self.record.clear();
                continue;
            }
            // An odd number of quotes so far means a quoted field continues on the next line.
            if self.record.bytes().filter(|&b| b == b'"').count() % 2 == 0 {
                break;
            }
        }
        let record = self.record.trim_end_matches(['\n', '\r']);
        parse_record(record, fields).map_err(|m| Error::Data {
            path: self.path.clone(),
            line: self.line,
            column: None,
            message: m,
        })?;
        Ok(true)
    }
}

fn parse_record(record: &str, fields: &mut Vec<String>) -> std::result::Result<(), String> {
    fields.clear();
    let mut field = String::new();
    let mut quoted = false;
    let mut in_quotes = false;
    let mut chars = record.chars().peekable();
    while let Some(c) = chars.next() {
        if in_quotes {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    in_quotes = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            ',' => {
                fields.push(finish(&mut field, quoted));
                quoted = false;
            }
            '"' if field.trim().is_empty() && !quoted => {
                field.clear();
                quoted = true;
                in_quotes = true;
            }
            '"' => return Err(format!("unexpected '\"' in field {}", fields.len() + 1)),
            _ if quoted && !c.is_whitespace() => {
                return Err(format!("text after closing quote in field {}", fields.len() + 1))
            }
            _ => field.push(c),
        }
    }
    fields.push(finish(&mut field, quoted));
    Ok(())
}

fn finish(field: &mut String, quoted: bool) -> String {
    let value = std::mem::take(field);
    if quoted {
        value
    } else {
        value.trim().to_string()
    }
}

/// The CSV files of a channel: the path itself if it is a file, else the `*.csv` files in
/// the directory in name order (so results do not depend on directory listing order).
pub fn channel_files(channel: &str, path: &Path) -> Result<Vec<PathBuf>> {
    if path.is_file() {
        return Ok(vec![path.to_path_buf()]);
    }
    if !path.is_dir() {
        return Err(Error::Invalid(format!(
            "channel '{channel}' not found: {} does not exist",
            path.display()
        )));
    }
    let mut files = Vec::new();
    for entry in std::fs::read_dir(path).map_err(Error::io("cannot list channel", path))? {
        let entry = entry.map_err(Error::io("cannot list channel", path))?;
        let p = entry.path();
        let name = entry.file_name().to_string_lossy().to_string();
        if p.is_file() && !name.starts_with('.') && name.to_ascii_lowercase().ends_with(".csv") {
            files.push(p);
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "channel '{channel}' has no .csv files in {}",
            path.display()
        )));
    }
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    type Rows = Vec<(u64, Vec<String>)>;

    fn read_all(text: &str) -> Result<(Vec<String>, Rows)> {
        let mut r = CsvReader::new(text.as_bytes(), Path::new("t.csv"))?;
        let mut rows = Vec::new();
        let mut f = Vec::new();
        while r.next_record(&mut f)? {
            rows.push((r.line(), f.clone()));
        }
        Ok((r.header().to_vec(), rows))
    }

    #[test]
    fn quotes_blank_lines_crlf_and_bom() {
        let (h, rows) = read_all(
            "\u{feff}user_id, item_id\r\n\r\n\"u,1\", i1 \r\n\"u \"\"2\"\"\",\"multi\nline\"\nu3,i3",
        )
        .unwrap();
        assert_eq!(h, ["USER_ID", "ITEM_ID"]);
        assert_eq!(rows[0], (3, vec!["u,1".to_string(), "i1".to_string()]));
        assert_eq!(
            rows[1],
            (4, vec!["u \"2\"".to_string(), "multi\nline".to_string()])
        );
        assert_eq!(rows[2], (6, vec!["u3".to_string(), "i3".to_string()]));
    }

    #[test]
    fn channel_files_are_the_sorted_csvs() {
        let dir = crate::testutil::TempDir::new();
        dir.write("b.csv", "A\n");
        dir.write("a.CSV", "A\n");
        dir.write(".hidden.csv", "A\n");
        dir.write("_SUCCESS", "");
        let files = channel_files("x", dir.path()).unwrap();
        let names: Vec<_> = files
            .iter()
            .map(|p| p.file_name().unwrap().to_str().unwrap())
            .collect();
        assert_eq!(names, ["a.CSV", "b.csv"]);
        assert_eq!(channel_files("x", &dir.path().join("b.csv")).unwrap().len(), 1);
        let empty = crate::testutil::TempDir::new();
        let e = channel_files("users", empty.path()).unwrap_err().to_string();
        assert!(e.starts_with("channel 'users' has no .csv files in "), "{e}");
    }

    #[test]
    fn errors_name_file_and_line() {
        let e = read_all("A,B\n1,2\n1,2,3\n").unwrap_err().to_string();
        assert_eq!(e, "t.csv:3: expected 2 fields (as in the header), found 3");
        let e = read_all("A,B\n1,\"2\n").unwrap_err().to_string();
        assert!(e.starts_with("t.csv:2: quoted field never closed"), "{e}");
        let e = read_all("").unwrap_err().to_string();
        assert!(e.contains("empty"), "{e}");
        let r = CsvReader::new("A,B\n".as_bytes(), Path::new("t.csv")).unwrap();
        assert_eq!(
            r.require("C").unwrap_err().to_string(),
            "t.csv:1 column C: required column is missing; header has [A,B]"
        );
    }
}
