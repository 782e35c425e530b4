//! Choosing the users to score: those of the users file that fall in the form's segment (or, with
//! no users file, every user of the interactions), written as Amazon Personalize batch-inference
//! input, one `{"userId": "…"}` per line. Files are read as a stream with an RFC 4180 reader;
//! output leaves in chunks, so neither is ever whole in memory.
//!
//! A segment's conditions name any column of the users file: values match as text after NFC
//! normalisation and trimming (GENDER and REGION in any case), ranges as numbers. While it is
//! read, the file's columns that ranges and banded fallback dimensions read must hold numbers.

use std::collections::HashSet;
use std::io::Read;

use serde::Serialize;

mod criteria;

use criteria::Matcher;
pub use criteria::{SelectError, UserCriteria, AGE_COLUMN, GENDER_COLUMN, REGION_COLUMN, USER_ID_COLUMN};

use crate::form::{AttributeCondition, Segment};
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Selection {
    /// Users written to the scoring input.
    pub selected: u64,
    /// Data rows read.
    pub rows: u64,
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
    for (column, condition) in &segment.attributes {
        parts.push(match condition {
            AttributeCondition::In { values } => format!("{column} {}", values.join(" or ")),
            AttributeCondition::NotIn { not_in } => format!("{column} not {}", not_in.join(" or ")),
            AttributeCondition::Range { min, max } => match (min, max) {
                (Some(min), Some(max)) => format!("{column} {min}-{max}"),
                (Some(min), None) => format!("{column} {min} or more"),
                (None, Some(max)) => format!("{column} {max} or less"),
                (None, None) => format!("any {column}"),
            },
        });
    }
    if parts.is_empty() {
        "every user".to_owned()
    } else {
        parts.join(", ")
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

/// Streams a users CSV and writes every user the criteria select (all users with no segment).
pub fn select_users<R: Read>(
    users_csv: R,
    criteria: &UserCriteria,
    chunk_bytes: usize,
    emit: impl FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<Selection, SelectError> {
    let mut reader = csv_reader(users_csv);
    let header = reader.headers().map_err(csv_error)?.clone();
    let matcher = Matcher::new(&header, criteria)?;
    let mut out = ChunkWriter::new(chunk_bytes, emit);
    let mut selection = Selection::default();
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        selection.rows += 1;
        let user_id = row.get(matcher.user_id).unwrap_or("").trim();
        let line = row.position().map_or(selection.rows + 1, |p| p.line());
        if !user_id.is_empty() && matcher.matches(&row, line)? {
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
    let everyone = UserCriteria::default();
    let matcher = Matcher::new(&header, &everyone)?;
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
        let criteria = UserCriteria::of_segment(segment);
        let selection = select_users(input.as_bytes(), &criteria, chunk, |c| {
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
        let criteria = UserCriteria::of_segment(Some(&segment()));
        let err = select_users("USER_ID,GENDER\nu1,F\n".as_bytes(), &criteria, 64, |_| Ok(())).unwrap_err();
        assert_eq!(err.to_string(), "has no AGE column, which segment.age needs");
    }

    #[test]
    fn a_ragged_row_names_its_line() {
        let everyone = UserCriteria::default();
        let err =
            select_users("USER_ID,GENDER\nu1,F\nu2\n".as_bytes(), &everyone, 64, |_| Ok(())).unwrap_err();
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

    fn members(segment: serde_json::Value) -> Result<String, SelectError> {
        let segment: Segment = serde_json::from_value(segment).unwrap();
        // 都 as the compatibility ideograph U+FA26, which NFC makes the unified 都.
        let decomposed = "東京\u{FA26}";
        let users = format!(
            "USER_ID,PREFECTURE,MEMBER_RANK,POINTS,Gender\n\
             m1,東京都,gold,120,f\nm2,{decomposed} ,Gold,80,F\nm3,大阪府,silver,,M\nm4,東京都,trial,300.5,F\n"
        );
        let mut out = Vec::new();
        select_users(
            users.as_bytes(),
            &UserCriteria::of_segment(Some(&segment)),
            64,
            |c| {
                out.extend(c);
                Ok(())
            },
        )?;
        Ok(String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|l| {
                l.trim_start_matches("{\"userId\":\"")
                    .trim_end_matches("\"}")
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join(","))
    }

    #[test]
    fn any_column_is_matched_as_normalised_text() {
        assert_eq!(
            members(serde_json::json!({"attributes": {"prefecture": {"in": ["東京都"]}}})).unwrap(),
            "m1,m2,m4",
            "composed or decomposed, trimmed"
        );
        assert_eq!(
            members(
                serde_json::json!({"attributes": {"PREFECTURE": {"in": ["東京都"]},
                "MEMBER_RANK": {"in": ["gold"]}}})
            )
            .unwrap(),
            "m1",
            "other columns match in their case: Gold is not gold"
        );
        assert_eq!(
            members(serde_json::json!({"attributes": {"MEMBER_RANK": {"not_in": ["trial", "silver"]}}}))
                .unwrap(),
            "m1,m2"
        );
        assert_eq!(
            members(serde_json::json!({"gender": ["F"], "attributes": {"POINTS": {"min": 100}}})).unwrap(),
            "m1,m4",
            "ranges compare numbers; a blank is in no range; GENDER in any case"
        );
        assert_eq!(
            members(serde_json::json!({"attributes": {"gender": {"in": ["F"]}}})).unwrap(),
            "m1,m2,m4",
            "GENDER named as an attribute matches in any case too"
        );
    }

    #[test]
    fn a_named_column_must_exist_and_a_range_needs_numbers() {
        let missing = members(serde_json::json!({"attributes": {"CITY": {"in": ["x"]}}})).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "has no CITY column, which segment.attributes.CITY needs"
        );
        let text = members(serde_json::json!({"attributes": {"MEMBER_RANK": {"min": 1}}})).unwrap_err();
        assert_eq!(
            text.to_string(),
            "line 2: column MEMBER_RANK holds \"gold\", which is not a number (segment.attributes.MEMBER_RANK needs numbers)"
        );
    }

    #[test]
    fn the_fallback_s_columns_must_exist_and_its_bands_read_numbers() {
        let mut form = crate::fakes::test_form("container");
        form.segment = None;
        form.fallback = serde_json::from_value(serde_json::json!(
            {"attributes": ["MEMBER_RANK", "AGE"], "bands": {"MEMBER_RANK": [1, 2]}}
        ))
        .unwrap();
        let criteria = UserCriteria::of(&form);
        assert_eq!(
            criteria.columns(),
            [
                ("MEMBER_RANK", "fallback.attributes"),
                ("AGE", "fallback.attributes")
            ]
        );
        let read = |users: &str| select_users(users.as_bytes(), &criteria, 64, |_| Ok(()));
        assert_eq!(
            read("USER_ID,MEMBER_RANK,AGE\nu1,2,old\nu2,,\n")
                .unwrap()
                .selected,
            2
        );
        let err = read("USER_ID,MEMBER_RANK,AGE\nu1,gold,30\n").unwrap_err();
        assert!(err.to_string().contains("MEMBER_RANK holds \"gold\""), "{err}");
        let err = read("USER_ID,MEMBER_RANK\nu1,1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "has no AGE column, which fallback.attributes needs"
        );
    }

    #[test]
    fn segments_read_well() {
        assert_eq!(
            describe(Some(&segment())),
            "gender F, age 20-39, region tokyo or osaka"
        );
        assert_eq!(describe(None), "every user");
        let members: Segment = serde_json::from_value(serde_json::json!({"attributes": {
            "PREFECTURE": {"in": ["東京都", "大阪府"]}, "RANK": {"not_in": ["trial"]}, "POINTS": {"min": 100}}}))
        .unwrap();
        assert_eq!(
            describe(Some(&members)),
            "POINTS 100 or more, PREFECTURE 東京都 or 大阪府, RANK not trial"
        );
    }
}
