//! Choosing the users to score: those of the users file that fall in the form's segment (or, with
//! no users file, every user of the interactions), written as Amazon Personalize batch-inference
//! input, one `{"userId": "…"}` per line. Files are read as a stream with an RFC 4180 reader;
//! output leaves in chunks, so neither is ever whole in memory.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

use crate::form::Segment;

/// Columns the segment criteria read (Personalize users-dataset conventions).
pub const GENDER_COLUMN: &str = "GENDER";
pub const AGE_COLUMN: &str = "AGE";
pub const REGION_COLUMN: &str = "REGION";
pub const USER_ID_COLUMN: &str = "USER_ID";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Users written to the scoring input.
    pub selected: u64,
    /// Data rows read.
    pub rows: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    #[error("has no {column} column, which the segment's {criterion} needs")]
    MissingColumn {
        column: &'static str,
        criterion: &'static str,
    },
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    /// The consumer of the chunks went away (its own error says why).
    #[error("the scoring input could not be written: {0}")]
    Output(String),
}

/// A readable form of the segment, e.g. `gender F, age 20-39, region tokyo or osaka`.
pub fn describe(segment: Option<&Segment>) -> String {
    let Some(segment) = segment else {
        return "every user".to_owned();
    };
    let mut parts = Vec::new();
    if let Some(genders) = &segment.gender {
        parts.push(format!("gender {}", genders.join(" or ")));
    }
    if let Some(age) = &segment.age {
        parts.push(match (age.min, age.max) {
            (Some(min), Some(max)) => format!("age {min}-{max}"),
            (Some(min), None) => format!("age {min} or more"),
            (None, Some(max)) => format!("age {max} or less"),
            (None, None) => "any age".to_owned(),
        });
    }
    if let Some(regions) = &segment.region {
        parts.push(format!("region {}", regions.join(" or ")));
    }
    if parts.is_empty() {
        "every user".to_owned()
    } else {
        parts.join(", ")
    }
}

/// Column positions of one users file for the criteria in use.
struct Matcher<'a> {
    segment: Option<&'a Segment>,
    user_id: usize,
    gender: Option<usize>,
    age: Option<usize>,
    region: Option<usize>,
}

impl<'a> Matcher<'a> {
    fn new(header: &csv::StringRecord, segment: Option<&'a Segment>) -> Result<Self, SelectError> {
        let position = |name: &str| {
            header
                .iter()
                .position(|c| c.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
        };
        let needed = |column: &'static str, criterion: &'static str, used: bool| {
            if !used {
                return Ok(None);
            }
            position(column)
                .map(Some)
                .ok_or(SelectError::MissingColumn { column, criterion })
        };
        let user_id = position(USER_ID_COLUMN).ok_or(SelectError::MissingColumn {
            column: USER_ID_COLUMN,
            criterion: "user ids",
        })?;
        Ok(Self {
            segment,
            user_id,
            gender: needed(
                GENDER_COLUMN,
                "gender",
                segment.is_some_and(|s| s.gender.is_some()),
            )?,
            age: needed(AGE_COLUMN, "age", segment.is_some_and(|s| s.age.is_some()))?,
            region: needed(
                REGION_COLUMN,
                "region",
                segment.is_some_and(|s| s.region.is_some()),
            )?,
        })
    }

    fn matches(&self, row: &csv::StringRecord) -> bool {
        let Some(segment) = self.segment else {
            return true;
        };
        let value = |i: Option<usize>| i.and_then(|i| row.get(i)).map(str::trim).unwrap_or("");
        let one_of = |wanted: &Option<Vec<String>>, i: Option<usize>| match wanted {
            None => true,
            Some(list) => {
                let v = value(i);
                list.iter().any(|w| w.eq_ignore_ascii_case(v))
            }
        };
        let age_ok = match &segment.age {
            None => true,
            Some(range) => match value(self.age).parse::<u32>() {
                Ok(age) => range.min.is_none_or(|m| age >= m) && range.max.is_none_or(|m| age <= m),
                Err(_) => false,
            },
        };
        one_of(&segment.gender, self.gender) && one_of(&segment.region, self.region) && age_ok
    }
}

/// Writes JSON lines into chunks of about `chunk_bytes`, handing each full chunk to `emit`.
struct ChunkWriter<F> {
    chunk: Vec<u8>,
    chunk_bytes: usize,
    emit: F,
}

#[derive(Serialize)]
struct ScoringLine<'a> {
    #[serde(rename = "userId")]
    user_id: &'a str,
}

impl<F: FnMut(Vec<u8>) -> Result<(), String>> ChunkWriter<F> {
    fn new(chunk_bytes: usize, emit: F) -> Self {
        Self {
            chunk: Vec::with_capacity(chunk_bytes + 256),
            chunk_bytes,
            emit,
        }
    }

    fn write_user(&mut self, user_id: &str) -> Result<(), SelectError> {
        serde_json::to_writer(&mut self.chunk, &ScoringLine { user_id })
            .map_err(|e| SelectError::Output(e.to_string()))?;
        self.chunk.push(b'\n');
        if self.chunk.len() >= self.chunk_bytes {
            let full = std::mem::replace(&mut self.chunk, Vec::with_capacity(self.chunk_bytes + 256));
            (self.emit)(full).map_err(SelectError::Output)?;
        }
        Ok(())
    }

    fn finish(mut self) -> Result<(), SelectError> {
        if !self.chunk.is_empty() {
            (self.emit)(std::mem::take(&mut self.chunk)).map_err(SelectError::Output)?;
        }
        Ok(())
    }
}

fn csv_reader<R: Read>(input: R) -> csv::Reader<R> {
    csv::ReaderBuilder::new()
        .has_headers(true)
        .flexible(false)
        .from_reader(input)
}

fn csv_error(err: csv::Error) -> SelectError {
    let line = err.position().map(|p| p.line()).unwrap_or(0);
    let message = match err.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => {
            format!("has {len} fields where the header has {expected_len}")
        }
        csv::ErrorKind::Utf8 { .. } => "is not UTF-8 text".to_owned(),
        _ => err.to_string(),
    };
    SelectError::Csv { line, message }
}

/// Streams a users CSV and writes every user in `segment` (all users when `None`).
pub fn select_users<R: Read>(
    users_csv: R,
    segment: Option<&Segment>,
    chunk_bytes: usize,
    emit: impl FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<Selection, SelectError> {
    let mut reader = csv_reader(users_csv);
    let header = reader.headers().map_err(csv_error)?.clone();
    let matcher = Matcher::new(&header, segment)?;
    let mut out = ChunkWriter::new(chunk_bytes, emit);
    let mut selection = Selection::default();
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        selection.rows += 1;
        let user_id = row.get(matcher.user_id).unwrap_or("").trim();
        if !user_id.is_empty() && matcher.matches(&row) {
            out.write_user(user_id)?;
            selection.selected += 1;
        }
    }
    out.finish()?;
    Ok(selection)
}

/// Streams an interactions CSV and writes each distinct user once, in order of first
/// appearance (for forms without a users file). Holds the set of user ids seen.
pub fn distinct_interaction_users<R: Read>(
    interactions_csv: R,
    chunk_bytes: usize,
    emit: impl FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<Selection, SelectError> {
    let mut reader = csv_reader(interactions_csv);
    let header = reader.headers().map_err(csv_error)?.clone();
    let matcher = Matcher::new(&header, None)?;
    let mut out = ChunkWriter::new(chunk_bytes, emit);
    let mut seen = HashSet::new();
    let mut selection = Selection::default();
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        selection.rows += 1;
        let user_id = row.get(matcher.user_id).unwrap_or("").trim();
        if !user_id.is_empty() && !seen.contains(user_id) {
            seen.insert(user_id.to_owned());
            out.write_user(user_id)?;
            selection.selected += 1;
        }
    }
    out.finish()?;
    Ok(selection)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::AgeRange;

    const USERS: &str = "\u{feff}USER_ID,GENDER,AGE,REGION\r\n\
        u1,F,25,tokyo\n\
        u2,M,25,tokyo\n\
        \"u,3\",f,39,Osaka\n\
        u4,F,40,tokyo\n\
        u5,F,,tokyo\n\
        u6,F,20,nagoya\n";

    fn segment() -> Segment {
        Segment {
            gender: Some(vec!["F".into()]),
            age: Some(AgeRange {
                min: Some(20),
                max: Some(39),
            }),
            region: Some(vec!["tokyo".into(), "osaka".into()]),
            attributes: Default::default(),
        }
    }

    fn run(input: &str, segment: Option<&Segment>, chunk: usize) -> (Selection, Vec<Vec<u8>>) {
        let mut chunks = Vec::new();
        let selection = select_users(input.as_bytes(), segment, chunk, |c| {
            chunks.push(c);
            Ok(())
        })
        .unwrap();
        (selection, chunks)
    }

    #[test]
    fn selects_the_segment_with_quoted_fields_and_any_case() {
        let (selection, chunks) = run(USERS, Some(&segment()), 1 << 20);
        assert_eq!(selection, Selection { selected: 2, rows: 6 });
        assert_eq!(
            String::from_utf8(chunks.concat()).unwrap(),
            "{\"userId\":\"u1\"}\n{\"userId\":\"u,3\"}\n"
        );
    }

    #[test]
    fn without_a_segment_everyone_is_selected_in_small_chunks() {
        let (selection, chunks) = run(USERS, None, 10);
        assert_eq!(selection.selected, 6);
        assert_eq!(chunks.len(), 6, "one chunk per line when chunks are tiny");
    }

    #[test]
    fn a_criterion_without_its_column_is_named() {
        let err = select_users("USER_ID,GENDER\nu1,F\n".as_bytes(), Some(&segment()), 64, |_| {
            Ok(())
        })
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "has no AGE column, which the segment's age needs"
        );
    }

    #[test]
    fn a_ragged_row_names_its_line() {
        let err = select_users("USER_ID,GENDER\nu1,F\nu2\n".as_bytes(), None, 64, |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "line 3: has 1 fields where the header has 2");
    }

    #[test]
    fn interaction_users_are_written_once() {
        let mut out = Vec::new();
        let selection = distinct_interaction_users(
            "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,1\nu2,i1,2\nu1,i2,3\n".as_bytes(),
            64,
            |c| {
                out.extend(c);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(selection.selected, 2);
        assert_eq!(out, b"{\"userId\":\"u1\"}\n{\"userId\":\"u2\"}\n");
    }

    #[test]
    fn segments_read_well() {
        assert_eq!(
            describe(Some(&segment())),
            "gender F, age 20-39, region tokyo or osaka"
        );
        assert_eq!(describe(None), "every user");
    }
}
