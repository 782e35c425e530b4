//! The `itemAttributes` expressions of Amazon Personalize's batch segment input
//! (aws-item-attribute-affinity), as the service documents them: `ITEMS.<column> = "<value>"`
//! conditions joined by `AND` (`\"` and `\\` escape inside the value). Equality only: no `OR`
//! (one input line per alternative), ranges or other operators.
//!
//! A condition holds for an item whose column has that value, or, for a categorical column
//! with several values (`coat|sale`, Personalize's separator), when one of them is it. Column
//! names match without regard to case; values exactly.

use crate::csv::{channel_files, CsvReader};
use crate::error::Result;
use std::path::Path;

/// One `ITEMS.<column> = "<value>"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Condition {
    /// Upper case, as the catalogue's header is read.
    pub column: String,
    pub value: String,
}

/// Conditions that must all hold for one and the same item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ItemFilter {
    pub conditions: Vec<Condition>,
}

impl ItemFilter {
    /// Parses an expression, or says what is wrong and where.
    pub fn parse(expression: &str) -> std::result::Result<Self, String> {
        let mut conditions = Vec::new();
        let mut rest = expression;
        loop {
            let at = expression.len() - rest.len();
            let (condition, after) = condition(rest).ok_or_else(|| {
                format!(
                    "Invalid itemAttributes expression {expression:?} at character {at}: expected \
                     ITEMS.<column> = \"<value>\" (conditions joined by AND; only = is supported)."
                )
            })?;
            conditions.push(condition);
            rest = after;
            if rest.is_empty() {
                return Ok(ItemFilter { conditions });
            }
            let at = expression.len() - rest.len();
            rest = rest
                .strip_prefix("AND")
                .filter(|after| after.starts_with(char::is_whitespace))
                .ok_or_else(|| {
                    format!(
                        "Invalid itemAttributes expression {expression:?} at character {at}: conditions are \
                         joined by AND (OR is not supported: use one input line per alternative)."
                    )
                })?;
        }
    }

    /// Whether the item of `row` (fields in `header` order) satisfies every condition.
    fn holds(&self, header: &[String], row: &[String]) -> bool {
        self.conditions.iter().all(|c| {
            header
                .iter()
                .position(|h| *h == c.column)
                .is_some_and(|i| row[i].split('|').any(|v| v == c.value))
        })
    }
}

/// `\s*ITEMS.<ident>\s*=\s*"<value>"\s*` at the start of `text`, and what follows it.
fn condition(text: &str) -> Option<(Condition, &str)> {
    let rest = text.trim_start().strip_prefix("ITEMS.")?;
    let ident_end = rest
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(rest.len());
    let column = &rest[..ident_end];
    if !column.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_') {
        return None;
    }
    let rest = rest[ident_end..].trim_start().strip_prefix('=')?;
    let rest = rest.trim_start().strip_prefix('"')?;
    let mut value = String::new();
    let mut chars = rest.char_indices();
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => {
                let condition = Condition {
                    column: column.to_ascii_uppercase(),
                    value,
                };
                return Some((condition, rest[i + 1..].trim_start()));
            }
            '\\' => value.push(chars.next()?.1),
            c => value.push(c),
        }
    }
    None
}

/// For each filter, the ids of the catalogue's items that satisfy it, in catalogue order:
/// the items CSV (or every `*.csv` of a directory) streamed once for all of them.
pub fn matching_items(catalog: &Path, filters: &[ItemFilter]) -> Result<Vec<Vec<String>>> {
    let mut matched = vec![Vec::new(); filters.len()];
    if filters.is_empty() {
        return Ok(matched);
    }
    for file in channel_files("items", catalog)? {
        let mut csv = CsvReader::open(&file)?;
        let item_col = csv.require("ITEM_ID")?;
        let header = csv.header().to_vec();
        let mut row = Vec::new();
        while csv.next_record(&mut row)? {
            for (filter, items) in filters.iter().zip(matched.iter_mut()) {
                if filter.holds(&header, &row) {
                    items.push(row[item_col].clone());
                }
            }
        }
    }
    Ok(matched)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::TempDir;

    fn condition(column: &str, value: &str) -> Condition {
        Condition {
            column: column.into(),
            value: value.into(),
        }
    }

    #[test]
    fn the_documented_syntax_parses_with_escapes() {
        assert_eq!(
            ItemFilter::parse(r#"ITEMS.CATEGORY = "coat""#)
                .unwrap()
                .conditions,
            [condition("CATEGORY", "coat")]
        );
        assert_eq!(
            ItemFilter::parse(r#"  ITEMS.category="a \"b\" \\c"  AND ITEMS.COLOR = "red" "#)
                .unwrap()
                .conditions,
            [condition("CATEGORY", r#"a "b" \c"#), condition("COLOR", "red")]
        );
    }

    #[test]
    fn anything_else_is_refused_saying_where() {
        for (bad, at) in [
            (r#"ITEMS.CATEGORY = "coat" OR ITEMS.CATEGORY = "hat""#, 24),
            (r#"ITEMS.PRICE > "10""#, 0),
            (r#"CATEGORY = "coat""#, 0),
            (r#"ITEMS.CATEGORY = "coat"#, 0),
            (r#"ITEMS.CATEGORY = "coat" AND"#, 24),
            (r#"ITEMS.CATEGORY = "coat" ANDITEMS.A = "b""#, 24),
            ("", 0),
        ] {
            let error = ItemFilter::parse(bad).unwrap_err();
            assert!(error.contains(&format!("at character {at}")), "{bad}: {error}");
        }
    }

    #[test]
    fn the_catalogue_is_matched_by_column_case_blind_values_exact_and_multi_valued() {
        let dir = TempDir::new();
        let catalog = dir.write(
            "items.csv",
            "ITEM_ID,category,COLOR\ni1,coat|sale,red\ni2,coat,blue\ni3,hat,red\ni4,Coat,red\n",
        );
        let filters = [
            ItemFilter::parse(r#"ITEMS.CATEGORY = "coat""#).unwrap(),
            ItemFilter::parse(r#"ITEMS.CATEGORY = "coat" AND ITEMS.COLOR = "red""#).unwrap(),
            ItemFilter::parse(r#"ITEMS.CATEGORY = "sale""#).unwrap(),
            ItemFilter::parse(r#"ITEMS.SIZE = "L""#).unwrap(),
        ];
        assert_eq!(
            matching_items(&catalog, &filters).unwrap(),
            [vec!["i1", "i2"], vec!["i1"], vec!["i1"], vec![]]
        );
    }
}
