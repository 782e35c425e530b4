//! The model directory format (version 1), written by `train` and read by `score`.
//!
//! ```text
//! model.json      metadata: {"format":"recoflow-recsys","version":1,"hyperparameters":{..},"stats":{..},..}
//! items.jsonl     one line per item:  {"itemId":"i1","users":12,"neighbours":[{"itemId":"i7","score":0.41,"users":5},..]}
//! popular.jsonl   global list first:  {"segment":null,"attributes":{},"users":250,"items":[{"itemId":"i1","score":0.3},..]}
//!                 then one line per user segment, e.g. "segment":"GENDER=F|AGE=20-29|REGION=tokyo"
//! users.jsonl     one line per user:  {"userId":"u1","segment":"GENDER=F|..","items":["i1","i7"]}
//! ```
//! Lines are sorted by key and scores rounded to 6 decimals, so the same data always gives
//! byte-identical files. `model.json` is written last: a model directory without it is incomplete.

use crate::error::{Error, Result};
use crate::hyper::Hyperparameters;
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap};
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

pub const FORMAT: &str = "recoflow-recsys";
pub const VERSION: u32 = 1;
pub const META_FILE: &str = "model.json";
pub const ITEMS_FILE: &str = "items.jsonl";
pub const POPULAR_FILE: &str = "popular.jsonl";
pub const USERS_FILE: &str = "users.jsonl";

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ModelMeta {
    pub format: String,
    pub version: u32,
    pub created_by: String,
    pub hyperparameters: Hyperparameters,
    /// Columns the segments were actually built from (present in the users data).
    pub segment_columns: Vec<String>,
    pub stats: Stats,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Stats {
    /// Interaction rows used (after the `event_types` filter).
    pub interactions: u64,
    /// Interaction rows skipped by the `event_types` filter.
    pub skipped_interactions: u64,
    /// Users with at least one interaction.
    pub active_users: u64,
    /// Users in the model, including users.csv rows without interactions.
    pub users: u64,
    pub users_with_attributes: u64,
    pub items: u64,
    /// Rows of the items channel, when given.
    pub catalog_items: Option<u64>,
    /// Interacted items missing from the items channel, when given.
    pub items_not_in_catalog: Option<u64>,
    /// Item pairs kept as neighbours (both directions counted once).
    pub neighbour_pairs: u64,
    pub segments: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoredItem {
    pub item_id: String,
    pub score: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Neighbour {
    pub item_id: String,
    /// Cosine similarity of the two items' user sets.
    pub score: f64,
    /// Users who interacted with both.
    pub users: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ItemLine {
    pub item_id: String,
    /// Distinct users who interacted with the item.
    pub users: u64,
    pub neighbours: Vec<Neighbour>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PopularLine {
    /// `null` for the global list.
    pub segment: Option<String>,
    pub attributes: BTreeMap<String, String>,
    /// Active users in the segment.
    pub users: u64,
    /// Score: (smoothed) share of the segment's users who interacted with the item.
    pub items: Vec<ScoredItem>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UserLine {
    pub user_id: String,
    pub segment: Option<String>,
    /// Every item the user interacted with (excluded when scoring), sorted.
    pub items: Vec<String>,
}

pub fn round6(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

pub fn write_jsonl<T: Serialize>(path: &Path, lines: impl IntoIterator<Item = T>) -> Result<()> {
    let file = File::create(path).map_err(Error::io("cannot create", path))?;
    let mut w = BufWriter::new(file);
    for line in lines {
        serde_json::to_writer(&mut w, &line)
            .map_err(|e| Error::Invalid(format!("{}: {e}", path.display())))?;
        w.write_all(b"\n").map_err(Error::io("cannot write", path))?;
    }
    w.flush().map_err(Error::io("cannot write", path))
}

/// Calls `f` for each line of a JSON-lines model file, streaming.
fn read_jsonl<T: DeserializeOwned>(path: &Path, mut f: impl FnMut(T) -> Result<()>) -> Result<()> {
    let file = File::open(path).map_err(Error::io("cannot open model file", path))?;
    let mut reader = BufReader::new(file);
    let mut buf = String::new();
    let mut line = 0u64;
    loop {
        buf.clear();
        line += 1;
        if reader
            .read_line(&mut buf)
            .map_err(Error::io("cannot read model file", path))?
            == 0
        {
            return Ok(());
        }
        if buf.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(&buf).map_err(|e| Error::Data {
            path: path.to_path_buf(),
            line,
            column: None,
            message: format!("invalid model line: {e}"),
        })?;
        f(value)?;
    }
}

/// A user the model knows: their segment (index into [`Model::segments`]) and seen items.
#[derive(Debug, Clone)]
pub struct KnownUser {
    pub segment: Option<u32>,
    /// Sorted item indices, for binary-search exclusion.
    pub items: Box<[u32]>,
}

/// The model in memory, with strings interned to indices; its size grows with items,
/// neighbours and known users, never with the number of users being scored.
#[derive(Debug)]
pub struct Model {
    pub meta: ModelMeta,
    pub item_ids: Vec<String>,
    pub neighbours: Vec<Box<[(u32, f64)]>>,
    pub global: Vec<(u32, f64)>,
    pub segments: Vec<Vec<(u32, f64)>>,
    pub users: HashMap<String, KnownUser>,
}

impl Model {
    pub fn load(dir: &Path) -> Result<Model> {
        let meta_path = dir.join(META_FILE);
        let text = std::fs::read_to_string(&meta_path)
            .map_err(Error::io("cannot read model metadata", &meta_path))?;
        let meta: ModelMeta = serde_json::from_str(&text)
            .map_err(|e| Error::Invalid(format!("{}: invalid model metadata: {e}", meta_path.display())))?;
        if meta.format != FORMAT || meta.version != VERSION {
            return Err(Error::Invalid(format!(
                "{}: unsupported model {} version {} (this recsys reads {FORMAT} version {VERSION})",
                meta_path.display(),
                meta.format,
                meta.version
            )));
        }

        let items_path = dir.join(ITEMS_FILE);
        let mut item_ids = Vec::new();
        let mut raw_neighbours = Vec::new();
        read_jsonl(&items_path, |line: ItemLine| {
            item_ids.push(line.item_id);
            raw_neighbours.push(line.neighbours);
            Ok(())
        })?;
        let index: HashMap<String, u32> = item_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i as u32))
            .collect();
        let lookup = |path: &PathBuf, id: &str| {
            index.get(id).copied().ok_or_else(|| {
                Error::Invalid(format!("{}: item {id:?} is not in {ITEMS_FILE}", path.display()))
            })
        };
        let neighbours = raw_neighbours
            .into_iter()
            .map(|ns| {
                ns.iter()
                    .map(|n| Ok((lookup(&items_path, &n.item_id)?, n.score)))
                    .collect()
            })
            .collect::<Result<Vec<_>>>()?;

        let popular_path = dir.join(POPULAR_FILE);
        let mut global = None;
        let mut segments = Vec::new();
        let mut segment_index = HashMap::new();
        read_jsonl(&popular_path, |line: PopularLine| {
            let items = line
                .items
                .iter()
                .map(|s| Ok((lookup(&popular_path, &s.item_id)?, s.score)))
                .collect::<Result<Vec<_>>>()?;
            match line.segment {
                None => global = Some(items),
                Some(key) => {
                    segment_index.insert(key, segments.len() as u32);
                    segments.push(items);
                }
            }
            Ok(())
        })?;
        let global = global.ok_or_else(|| {
            Error::Invalid(format!("{}: no global popularity line", popular_path.display()))
        })?;

        let users_path = dir.join(USERS_FILE);
        let mut users = HashMap::new();
        read_jsonl(&users_path, |line: UserLine| {
            let mut items = line
                .items
                .iter()
                .map(|id| lookup(&users_path, id))
                .collect::<Result<Vec<_>>>()?;
            items.sort_unstable();
            let segment = line.segment.and_then(|s| segment_index.get(&s).copied());
            users.insert(
                line.user_id,
                KnownUser {
                    segment,
                    items: items.into(),
                },
            );
            Ok(())
        })?;

        Ok(Model {
            meta,
            item_ids,
            neighbours,
            global,
            segments,
            users,
        })
    }
}
