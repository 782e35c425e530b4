//! The segment's conditions and the checks reading a users file makes: which columns must
//! exist, which must hold numbers, and whether a row is in the segment. Values match as text
//! after NFC normalisation and trimming (GENDER and REGION in any case), ranges as numbers.

use crate::attributes::{any_case, normalized, SegmentDimensions};
use crate::form::{AgeRange, AttributeCondition, JobForm, Segment};

/// Columns the segment criteria read (Personalize users-dataset conventions).
pub const GENDER_COLUMN: &str = "GENDER";
pub const AGE_COLUMN: &str = "AGE";
pub const REGION_COLUMN: &str = "REGION";
pub const USER_ID_COLUMN: &str = "USER_ID";

#[derive(Debug, thiserror::Error)]
pub enum SelectError {
    /// `needed_by`: the form field that names the column, e.g. `segment.attributes.PREFECTURE`.
    #[error("has no {column} column, which {needed_by} needs")]
    MissingColumn { column: String, needed_by: String },
    #[error(
        "line {line}: column {column} holds {value:?}, which is not a number ({needed_by} needs numbers)"
    )]
    NotANumber {
        column: String,
        line: u64,
        value: String,
        needed_by: String,
    },
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    /// The consumer of the chunks went away (its own error says why).
    #[error("the scoring input could not be written: {0}")]
    Output(String),
}

/// What a condition asks of a value.
#[derive(Debug, Clone, PartialEq)]
enum Test {
    /// One of these (normalised; lower case for a column matched in any case).
    OneOf(Vec<String>),
    NoneOf(Vec<String>),
    /// A number within the bounds; a value that is not one is a data problem.
    Range {
        min: Option<f64>,
        max: Option<f64>,
    },
    /// The segment's age: a whole number within the range; any other value does not match.
    Age(AgeRange),
}

/// One condition of the segment on one column.
#[derive(Debug, Clone, PartialEq)]
struct Condition {
    /// As the form names it, upper case.
    column: String,
    /// The form field that sets it.
    field: String,
    test: Test,
}

/// What reading the users file checks and selects: the segment's conditions, the columns
/// whose values must be numbers, and every column the form names (which must exist).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct UserCriteria {
    conditions: Vec<Condition>,
    /// (column, field) of banded fallback dimensions other than AGE (which, as before, simply
    /// has no band when its value is not a whole number).
    numeric: Vec<(String, String)>,
    /// (column, field) the fallback names explicitly.
    fallback_columns: Vec<(String, String)>,
}

impl UserCriteria {
    /// The form's segment (none: every user) and fallback dimensions.
    pub fn of(form: &JobForm) -> Self {
        let mut criteria = Self::of_segment(form.segment.as_ref());
        if form.fallback.is_some() {
            let dimensions = SegmentDimensions::of(form);
            for dimension in &dimensions.dimensions {
                let field = "fallback.attributes".to_owned();
                criteria
                    .fallback_columns
                    .push((dimension.column.clone(), field.clone()));
                if dimension.bands.is_some() && dimension.column != AGE_COLUMN {
                    criteria
                        .numeric
                        .push((dimension.column.clone(), "fallback.bands".to_owned()));
                }
            }
        }
        criteria
    }

    /// A segment's conditions alone.
    pub fn of_segment(segment: Option<&Segment>) -> Self {
        let mut conditions = Vec::new();
        let Some(segment) = segment else {
            return Self::default();
        };
        let one_of = |column: &str, field: &str, values: &[String]| Condition {
            column: column.to_owned(),
            field: field.to_owned(),
            test: Test::OneOf(comparable(column, values)),
        };
        if let Some(genders) = &segment.gender {
            conditions.push(one_of(GENDER_COLUMN, "segment.gender", genders));
        }
        if let Some(age) = segment.age {
            conditions.push(Condition {
                column: AGE_COLUMN.to_owned(),
                field: "segment.age".to_owned(),
                test: Test::Age(age),
            });
        }
        if let Some(regions) = &segment.region {
            conditions.push(one_of(REGION_COLUMN, "segment.region", regions));
        }
        for (name, condition) in &segment.attributes {
            let column = name.to_ascii_uppercase();
            let test = match condition {
                AttributeCondition::In { values } => Test::OneOf(comparable(&column, values)),
                AttributeCondition::NotIn { not_in } => Test::NoneOf(comparable(&column, not_in)),
                AttributeCondition::Range { min, max } => Test::Range { min: *min, max: *max },
            };
            let field = format!("segment.attributes.{name}");
            conditions.push(Condition { column, field, test });
        }
        Self {
            conditions,
            ..Self::default()
        }
    }

    /// Every users-file column the form names, with the field that names it.
    pub fn columns(&self) -> Vec<(&str, &str)> {
        self.conditions
            .iter()
            .map(|c| (c.column.as_str(), c.field.as_str()))
            .chain(
                self.fallback_columns
                    .iter()
                    .map(|(c, f)| (c.as_str(), f.as_str())),
            )
            .collect()
    }

    pub fn is_everyone(&self) -> bool {
        self.conditions.is_empty()
    }
}

/// Values as a column compares them: normalised, and lower case where any case matches.
fn comparable(column: &str, values: &[String]) -> Vec<String> {
    values
        .iter()
        .map(|value| comparable_value(column, value))
        .collect()
}

fn comparable_value(column: &str, value: &str) -> String {
    let value = normalized(value);
    if any_case(column) {
        value.to_lowercase()
    } else {
        value
    }
}

/// Where a header has a column (any case, trimmed, a byte-order mark ignored).
fn position(header: &csv::StringRecord, name: &str) -> Option<usize> {
    header
        .iter()
        .position(|c| c.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
}

/// The criteria placed on one users file's columns.
pub(super) struct Matcher<'a> {
    pub(super) user_id: usize,
    conditions: Vec<(usize, &'a Condition)>,
    numeric: Vec<(usize, &'a (String, String))>,
}

impl<'a> Matcher<'a> {
    pub(super) fn new(header: &csv::StringRecord, criteria: &'a UserCriteria) -> Result<Self, SelectError> {
        let needed = |column: &str, field: &str| {
            position(header, column).ok_or_else(|| SelectError::MissingColumn {
                column: column.to_owned(),
                needed_by: field.to_owned(),
            })
        };
        let user_id = needed(USER_ID_COLUMN, "recoflow")?;
        for (column, field) in criteria.columns() {
            needed(column, field)?;
        }
        let conditions = criteria
            .conditions
            .iter()
            .map(|c| Ok((needed(&c.column, &c.field)?, c)))
            .collect::<Result<_, SelectError>>()?;
        let numeric = criteria
            .numeric
            .iter()
            .map(|n| Ok((needed(&n.0, &n.1)?, n)))
            .collect::<Result<_, SelectError>>()?;
        Ok(Self {
            user_id,
            conditions,
            numeric,
        })
    }

    /// Whether the row is in the segment; a value a range or a band cannot read is an error.
    pub(super) fn matches(&self, row: &csv::StringRecord, line: u64) -> Result<bool, SelectError> {
        let value = |i: usize| row.get(i).unwrap_or("");
        for (i, (column, field)) in &self.numeric {
            number(value(*i), column, field, line)?;
        }
        for (i, condition) in &self.conditions {
            let raw = value(*i);
            let holds = match &condition.test {
                Test::OneOf(wanted) => wanted.contains(&comparable_value(&condition.column, raw)),
                Test::NoneOf(unwanted) => !unwanted.contains(&comparable_value(&condition.column, raw)),
                Test::Range { min, max } => number(raw, &condition.column, &condition.field, line)?
                    .is_some_and(|n| min.is_none_or(|m| n >= m) && max.is_none_or(|m| n <= m)),
                Test::Age(range) => raw.trim().parse::<u32>().is_ok_and(|age| {
                    range.min.is_none_or(|m| age >= m) && range.max.is_none_or(|m| age <= m)
                }),
            };
            if !holds {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// A cell read as a number: `None` when blank, an error when it is text.
fn number(raw: &str, column: &str, field: &str, line: u64) -> Result<Option<f64>, SelectError> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<f64>() {
        Ok(n) if n.is_finite() => Ok(Some(n)),
        _ => Err(SelectError::NotANumber {
            column: column.to_owned(),
            line,
            value: raw.chars().take(40).collect(),
            needed_by: field.to_owned(),
        }),
    }
}
