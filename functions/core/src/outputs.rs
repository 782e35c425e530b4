//! The outputs other than users' lists (the form's `output`): audiences (the users most likely
//! to respond to given items, or to items matching a filter) and similar items (each item's
//! most similar items). Both backends are asked in Amazon Personalize's batch formats: the
//! items as input lines (`{"itemId": …}`, `{"itemAttributes": …}`), written by Prepare under
//! the job's prefix; the answers read by Deliver.

pub mod audience;
pub mod segment_lines;
pub mod similar;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::attributes::normalized;
use crate::job::JobId;

/// Where Prepare leaves the items an audience or similar-items job asks about, in the results
/// bucket.
pub fn item_input_key(job_id: &JobId) -> String {
    format!("jobs/{job_id}/input/items.jsonl")
}

/// Most `itemAttributes` lines one item filter may expand to: Personalize takes no `OR`, so
/// each combination of the filter's values is a line of its own (and a scan of the catalogue).
pub const MAX_FILTER_ALTERNATIVES: usize = 100;

/// One input line of a batch job about items.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub enum ItemLine {
    #[serde(rename = "itemId")]
    Item(String),
    #[serde(rename = "itemAttributes")]
    Attributes(String),
}

impl ItemLine {
    /// The line as JSON text, newline included.
    pub fn to_line(&self) -> Vec<u8> {
        let mut line = serde_json::to_vec(self).expect("an item line serializes");
        line.push(b'\n');
        line
    }
}

/// The `itemAttributes` expressions of an item filter (items-file column → values): one per
/// combination of one value of each column, `ITEMS.<COLUMN> = "<value>"` joined by `AND`, as
/// Personalize documents them. Values are NFC-normalised and trimmed, as segments match them.
/// `Err` with the number of combinations when there are more than [`MAX_FILTER_ALTERNATIVES`].
pub fn filter_expressions(filter: &BTreeMap<String, Vec<String>>) -> Result<Vec<String>, usize> {
    let combinations = filter
        .values()
        .map(Vec::len)
        .try_fold(1usize, |n, values| n.checked_mul(values))
        .unwrap_or(usize::MAX);
    if combinations > MAX_FILTER_ALTERNATIVES {
        return Err(combinations);
    }
    let mut expressions = vec![String::new()];
    for (column, values) in filter {
        let column = &column.to_ascii_uppercase();
        expressions = expressions
            .iter()
            .flat_map(|before| {
                values.iter().map(move |value| {
                    let condition = format!("ITEMS.{column} = \"{}\"", escape(&normalized(value)));
                    if before.is_empty() {
                        condition
                    } else {
                        format!("{before} AND {condition}")
                    }
                })
            })
            .collect();
    }
    Ok(expressions)
}

/// A value inside the expression's quotes: `\` and `"` escaped with `\`.
fn escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_filter_is_one_expression_per_combination_of_its_values() {
        let filter: BTreeMap<String, Vec<String>> = [
            (
                "category".to_owned(),
                vec!["coat".to_owned(), "ja\"ck\\et".to_owned()],
            ),
            ("COLOR".to_owned(), vec![" 赤 ".to_owned()]),
        ]
        .into();
        // Columns in name order (upper case sorts first), values in the form's order.
        assert_eq!(
            filter_expressions(&filter).unwrap(),
            [
                r#"ITEMS.COLOR = "赤" AND ITEMS.CATEGORY = "coat""#,
                r#"ITEMS.COLOR = "赤" AND ITEMS.CATEGORY = "ja\"ck\\et""#,
            ]
        );
        let wide: BTreeMap<String, Vec<String>> = (0..3)
            .map(|c| (format!("C{c}"), (0..5).map(|v| v.to_string()).collect()))
            .collect();
        assert_eq!(filter_expressions(&wide), Err(125));
        assert_eq!(
            String::from_utf8(ItemLine::Attributes("ITEMS.A = \"x\"".into()).to_line()).unwrap(),
            "{\"itemAttributes\":\"ITEMS.A = \\\"x\\\"\"}\n"
        );
    }
}
