//! Similar items: each item's most similar items (the backend's batch answer for every item of
//! the interactions), and for items it has no list for, the popular items of their category
//! (the items file's `CATEGORY`), then the result set's popular items. Kept in the
//! recommendations table beside the other lists of a version:
//! - `i#<rs>#<version>#<item>`: the item's similar items, best first;
//! - `ic#<rs>#<version>#<item>`: the item's category (`segment`), for every item of the items file;
//! - `c#<rs>#<version>#<category>`: the category's most interacted-with items;
//! - `g#<rs>#<version>`: every item's (as for users' lists).
//!
//! Counting holds each item of the items file as a hash and a category index (12 bytes), and a
//! Space-Saving counter per category and one overall (`topk`), so memory follows the
//! catalogue and the number of categories, never the interactions.

use std::collections::{HashMap, HashSet};
use std::io::Read;

use crate::popularity::{top, PopularList, COUNTERS_PER_LIST};
use crate::topk::{item_hash, SpaceSaving};

/// The items file's column an item's category is read from.
pub const CATEGORY_COLUMN: &str = "CATEGORY";

/// Keys of the recommendations table for similar items.
pub mod keys {
    /// An item's similar items in a version.
    pub fn similar(result_set: &str, version: &str, item_id: &str) -> String {
        format!("i#{result_set}#{version}#{item_id}")
    }

    /// An item's category in a version (on the list's `segment`).
    pub fn item_category(result_set: &str, version: &str, item_id: &str) -> String {
        format!("ic#{result_set}#{version}#{item_id}")
    }

    /// A category's popular items in a version.
    pub fn category(result_set: &str, version: &str, category: &str) -> String {
        format!("c#{result_set}#{version}#{category}")
    }
}

/// An item's category as the items file gives it: the first of its `|`-separated values
/// (Personalize's separator for several), trimmed; `None` when blank.
pub fn category_of(value: &str) -> Option<&str> {
    value.split('|').next().map(str::trim).filter(|c| !c.is_empty())
}

/// Interactions counted per category and overall.
#[derive(Default)]
pub struct CategoryPopularity {
    /// Item (by hash) → index into `categories`.
    item_category: HashMap<u64, u32>,
    categories: Vec<String>,
    category_ids: HashMap<String, u32>,
    counts: Vec<Option<SpaceSaving>>,
    global: Option<SpaceSaving>,
    /// Banned items: never counted, so never in a list.
    excluded: HashSet<String>,
    /// Distinct items seen, in the items file or the interactions (the catalogue), by hash.
    catalogue: HashSet<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum CountError {
    #[error("has no {0} column")]
    MissingColumn(&'static str),
    #[error("line {line}: {message}")]
    Csv { line: u64, message: String },
    /// The consumer of the items went away (its own error says why).
    #[error("{0}")]
    Output(String),
}

fn csv_error(err: csv::Error) -> CountError {
    CountError::Csv {
        line: err.position().map(|p| p.line()).unwrap_or(0),
        message: err.to_string(),
    }
}

fn column(header: &csv::StringRecord, name: &'static str) -> Result<usize, CountError> {
    header
        .iter()
        .position(|c| c.trim().trim_start_matches('\u{feff}').eq_ignore_ascii_case(name))
        .ok_or(CountError::MissingColumn(name))
}

impl CategoryPopularity {
    pub fn exclude(&mut self, items: HashSet<String>) {
        self.excluded = items;
    }

    /// Reads the items file: each item's category. `on_item(item, category)` sees every item
    /// with one (to publish it); its error stops the reading. Without a CATEGORY column every
    /// item is uncategorised.
    pub fn read_items<R: Read>(
        &mut self,
        items_csv: R,
        mut on_item: impl FnMut(&str, &str) -> Result<(), String>,
    ) -> Result<(), CountError> {
        let mut reader = csv::Reader::from_reader(items_csv);
        let header = reader.headers().map_err(csv_error)?.clone();
        let item_column = column(&header, "ITEM_ID")?;
        let category_column = column(&header, CATEGORY_COLUMN).ok();
        let mut row = csv::StringRecord::new();
        while reader.read_record(&mut row).map_err(csv_error)? {
            let Some(item) = row.get(item_column).map(str::trim).filter(|i| !i.is_empty()) else {
                continue;
            };
            let hash = item_hash(item);
            self.catalogue.insert(hash);
            let Some(category) = category_column.and_then(|c| row.get(c)).and_then(category_of) else {
                continue;
            };
            on_item(item, category).map_err(CountError::Output)?;
            let id = self.category(category);
            self.item_category.insert(hash, id);
        }
        Ok(())
    }

    fn category(&mut self, name: &str) -> u32 {
        if let Some(&id) = self.category_ids.get(name) {
            return id;
        }
        let id = self.categories.len() as u32;
        self.categories.push(name.to_owned());
        self.category_ids.insert(name.to_owned(), id);
        self.counts.push(None);
        id
    }

    /// Streams the interactions, counting each for its item's category and overall.
    pub fn read_interactions<R: Read>(&mut self, interactions_csv: R) -> Result<u64, CountError> {
        let mut reader = csv::Reader::from_reader(interactions_csv);
        let header = reader.headers().map_err(csv_error)?.clone();
        let item_column = column(&header, "ITEM_ID")?;
        let mut row = csv::StringRecord::new();
        let mut counted = 0;
        while reader.read_record(&mut row).map_err(csv_error)? {
            let Some(item) = row.get(item_column).map(str::trim).filter(|i| !i.is_empty()) else {
                continue;
            };
            let hash = item_hash(item);
            self.catalogue.insert(hash);
            if self.excluded.contains(item) {
                continue;
            }
            counted += 1;
            self.global
                .get_or_insert_with(|| SpaceSaving::new(COUNTERS_PER_LIST))
                .add_hashed(item, hash);
            if let Some(&category) = self.item_category.get(&hash) {
                self.counts[category as usize]
                    .get_or_insert_with(|| SpaceSaving::new(COUNTERS_PER_LIST))
                    .add_hashed(item, hash);
            }
        }
        Ok(counted)
    }

    /// Distinct items of the items file and the interactions.
    pub fn catalogue_items(&self) -> u64 {
        self.catalogue.len() as u64
    }

    /// The global list (`segment: None`) and one per category with interactions (`segment`:
    /// the category), banned items left out.
    pub fn lists(&self, banned: &HashSet<String>) -> Vec<PopularList> {
        let empty = SpaceSaving::new(1);
        let mut lists = vec![top(None, self.global.as_ref().unwrap_or(&empty), banned)];
        for (category, counted) in self.categories.iter().zip(&self.counts) {
            if let Some(counted) = counted {
                lists.push(top(Some(category.clone()), counted, banned));
            }
        }
        lists
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn items_are_counted_for_their_category_and_overall_banned_ones_never() {
        let mut popularity = CategoryPopularity::default();
        popularity.exclude(["i4".to_owned()].into());
        let mut categorised = Vec::new();
        popularity
            .read_items(
                "item_id,category\ni1,coat|sale\ni2,coat\ni3,hat\ni4,hat\ni5,\n".as_bytes(),
                |item, category| {
                    categorised.push(format!("{item}:{category}"));
                    Ok(())
                },
            )
            .unwrap();
        assert_eq!(categorised, ["i1:coat", "i2:coat", "i3:hat", "i4:hat"]);
        let interactions = "USER_ID,ITEM_ID,TIMESTAMP\nu,i2,1\nu,i2,2\nu,i1,3\nu,i4,4\nu,i3,5\nu,i9,6\n";
        assert_eq!(popularity.read_interactions(interactions.as_bytes()).unwrap(), 5);
        assert_eq!(popularity.catalogue_items(), 6);
        let lists = popularity.lists(&HashSet::new());
        let shown: Vec<(Option<&str>, Vec<&str>)> = lists
            .iter()
            .map(|l| (l.segment.as_deref(), l.items.iter().map(String::as_str).collect()))
            .collect();
        assert_eq!(
            shown,
            [
                (None, vec!["i2", "i1", "i3", "i9"]),
                (Some("coat"), vec!["i2", "i1"]),
                (Some("hat"), vec!["i3"]),
            ]
        );
        assert_eq!(lists[1].scores, [0.666667, 0.333333]);
    }

    #[test]
    fn an_items_file_without_categories_leaves_every_item_uncategorised() {
        let mut popularity = CategoryPopularity::default();
        popularity
            .read_items("ITEM_ID,COLOR\ni1,red\n".as_bytes(), |_, _| Err("called".into()))
            .unwrap();
        assert!(matches!(
            popularity.read_items("ID\nx\n".as_bytes(), |_, _| Ok(())),
            Err(CountError::MissingColumn("ITEM_ID"))
        ));
    }
}
