//! `recsys train`: item co-occurrence neighbours plus global and per-segment popularity.

use crate::csv::{channel_files, CsvReader};
use crate::env::TrainPaths;
use crate::error::{Error, Result};
use crate::hyper::Hyperparameters;
use crate::model::{self, round6, ItemLine, ModelMeta, Neighbour, PopularLine, ScoredItem, Stats, UserLine};
use std::cmp::Ordering;
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::Path;

/// Strings interned to dense indices: the maps below hold `u32`s, not copies of ids.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
    names: Vec<String>,
}

impl Interner {
    fn intern(&mut self, name: &str) -> u32 {
        if let Some(&i) = self.index.get(name) {
            return i;
        }
        let i = self.names.len() as u32;
        self.index.insert(name.to_string(), i);
        self.names.push(name.to_string());
        i
    }
}

/// Highest score first, then item id, so ties never depend on hash or file order.
fn by_score_then_id(names: &[String]) -> impl Fn(&(u32, f64), &(u32, f64)) -> Ordering + '_ {
    move |a, b| {
        b.1.total_cmp(&a.1)
            .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
    }
}

struct Data {
    items: Interner,
    users: Interner,
    /// Per user: (item, timestamp) as read; deduplicated later.
    histories: Vec<Vec<(u32, i64)>>,
    /// Per user: segment key and its attributes, when the users channel has the user.
    /// Per user (with a users-channel row): index into `segment_keys`. Segments are
    /// interned because a million users share a few dozen of them.
    user_segment: HashMap<u32, u32>,
    segment_keys: Interner,
    segment_attributes: Vec<BTreeMap<String, String>>,
    segment_columns: Vec<String>,
    stats: Stats,
}

/// Trains from `paths` and writes the model; returns the statistics also written to
/// `<output data dir>/training-summary.json`.
pub fn train(paths: &TrainPaths) -> Result<Stats> {
    let hp = Hyperparameters::load(&paths.hyperparameters)?;
    let mut data = Data {
        items: Interner::default(),
        users: Interner::default(),
        histories: Vec::new(),
        user_segment: HashMap::new(),
        segment_keys: Interner::default(),
        segment_attributes: Vec::new(),
        segment_columns: Vec::new(),
        stats: Stats::default(),
    };
    let interaction_files = channel_files("interactions", &paths.interactions)?;
    for file in &interaction_files {
        read_interactions(file, &hp, &mut data)?;
    }
    if data.stats.interactions == 0 {
        let filter = if hp.event_types.is_empty() {
            String::new()
        } else {
            format!(" with EVENT_TYPE in [{}]", hp.event_types.join(","))
        };
        return Err(Error::Invalid(format!(
            "no interactions{filter} in channel 'interactions' ({})",
            interaction_files
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if let Some(users) = &paths.users {
        for file in channel_files("users", users)? {
            read_users(&file, &hp, &mut data)?;
        }
    }
    if let Some(items) = &paths.items {
        let mut catalog = HashSet::new();
        for file in channel_files("items", items)? {
            read_items(&file, &mut catalog)?;
        }
        data.stats.catalog_items = Some(catalog.len() as u64);
        let missing = data
            .items
            .names
            .iter()
            .filter(|id| !catalog.contains(id.as_str()))
            .count();
        if missing > 0 {
            eprintln!("recsys: warning: {missing} interacted items are not in the items channel");
        }
        data.stats.items_not_in_catalog = Some(missing as u64);
    }

    let stats = build_and_write(data, &hp, &paths.model_dir)?;
    std::fs::create_dir_all(&paths.output_data_dir)
        .map_err(Error::io("cannot create output data dir", &paths.output_data_dir))?;
    let summary = paths.output_data_dir.join("training-summary.json");
    let text = serde_json::to_string_pretty(&stats).expect("stats serialize");
    std::fs::write(&summary, text + "\n").map_err(Error::io("cannot write", &summary))?;
    Ok(stats)
}

fn read_interactions(path: &Path, hp: &Hyperparameters, data: &mut Data) -> Result<()> {
    let mut csv = CsvReader::open(path)?;
    let user_col = csv.require("USER_ID")?;
    let item_col = csv.require("ITEM_ID")?;
    let ts_col = csv.require("TIMESTAMP")?;
    let event_col = csv.column("EVENT_TYPE");
    if !hp.event_types.is_empty() && event_col.is_none() {
        return Err(csv.error(
            Some("EVENT_TYPE"),
            "hyperparameter event_types is set but the file has no EVENT_TYPE column".into(),
        ));
    }
    let mut f = Vec::new();
    while csv.next_record(&mut f)? {
        for (col, name) in [(user_col, "USER_ID"), (item_col, "ITEM_ID")] {
            if f[col].is_empty() {
                return Err(csv.error(Some(name), "value is empty".into()));
            }
        }
        let ts: i64 = f[ts_col].parse().map_err(|_| {
            csv.error(
                Some("TIMESTAMP"),
                format!(
                    "expected an integer Unix timestamp in seconds, got {:?}",
                    f[ts_col]
                ),
            )
        })?;
        if let Some(ec) = event_col {
            if !hp.event_types.is_empty() && !hp.event_types.iter().any(|t| *t == f[ec]) {
                data.stats.skipped_interactions += 1;
                continue;
            }
        }
        let user = data.users.intern(&f[user_col]) as usize;
        let item = data.items.intern(&f[item_col]);
        if user == data.histories.len() {
            data.histories.push(Vec::new());
        }
        data.histories[user].push((item, ts));
        data.stats.interactions += 1;
    }
    Ok(())
}

fn read_users(path: &Path, hp: &Hyperparameters, data: &mut Data) -> Result<()> {
    let mut csv = CsvReader::open(path)?;
    let user_col = csv.require("USER_ID")?;
    let mut columns = Vec::new();
    for name in &hp.segment_columns {
        match csv.column(name) {
            Some(i) => columns.push((i, name.clone())),
            None if hp.segment_columns_explicit => {
                return Err(csv.require(name).expect_err("column is missing"));
            }
            // Default segment columns are used only when the data has them.
            None => {}
        }
    }
    for (_, name) in &columns {
        if !data.segment_columns.contains(name) {
            data.segment_columns.push(name.clone());
        }
    }
    let mut f = Vec::new();
    while csv.next_record(&mut f)? {
        if f[user_col].is_empty() {
            return Err(csv.error(Some("USER_ID"), "value is empty".into()));
        }
        let mut attributes = BTreeMap::new();
        let mut key = Vec::new();
        for (i, name) in &columns {
            let raw = f[*i].as_str();
            let value = if raw.is_empty() {
                "unknown".to_string()
            } else if name == "AGE" {
                let age: u32 = raw.parse().map_err(|_| {
                    csv.error(
                        Some("AGE"),
                        format!("expected an integer age in years, got {raw:?}"),
                    )
                })?;
                hp.age_band(age)
            } else {
                raw.to_string()
            };
            key.push(format!("{name}={value}"));
            attributes.insert(name.clone(), value);
        }
        let user = data.users.intern(&f[user_col]) as usize;
        if user == data.histories.len() {
            data.histories.push(Vec::new());
        }
        data.stats.users_with_attributes += 1;
        if !key.is_empty() {
            let segment = data.segment_keys.intern(&key.join("|"));
            if segment as usize == data.segment_attributes.len() {
                data.segment_attributes.push(attributes);
            }
            data.user_segment.insert(user as u32, segment);
        }
    }
    Ok(())
}

fn read_items(path: &Path, catalog: &mut HashSet<String>) -> Result<()> {
    let mut csv = CsvReader::open(path)?;
    let item_col = csv.require("ITEM_ID")?;
    let mut f = Vec::new();
    while csv.next_record(&mut f)? {
        if f[item_col].is_empty() {
            return Err(csv.error(Some("ITEM_ID"), "value is empty".into()));
        }
        catalog.insert(std::mem::take(&mut f[item_col]));
    }
    Ok(())
}

struct SegmentCounts<'a> {
    attributes: &'a BTreeMap<String, String>,
    /// Active users in the segment.
    users: u64,
    /// Users in the segment per item.
    items: HashMap<u32, u64>,
}

fn build_and_write(data: Data, hp: &Hyperparameters, model_dir: &Path) -> Result<Stats> {
    let Data {
        items,
        users,
        mut histories,
        user_segment,
        segment_keys,
        segment_attributes,
        segment_columns,
        mut stats,
    } = data;
    let names = &items.names;
    let n_items = names.len();

    // Distinct items per user (latest timestamp wins), plus the co-occurrence pair counts.
    let mut item_users = vec![0u64; n_items];
    let mut pairs: HashMap<u64, u32> = HashMap::new();
    let mut window = Vec::new();
    for history in histories.iter_mut() {
        history.sort_unstable_by(|a, b| a.0.cmp(&b.0).then(b.1.cmp(&a.1)));
        history.dedup_by_key(|e| e.0);
        for &(item, _) in history.iter() {
            item_users[item as usize] += 1;
        }
        window.clear();
        window.extend(history.iter().copied());
        if window.len() > hp.max_items_per_user {
            window.sort_unstable_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
            window.truncate(hp.max_items_per_user);
            window.sort_unstable();
        }
        for (i, &(a, _)) in window.iter().enumerate() {
            for &(b, _) in &window[i + 1..] {
                *pairs.entry(((a as u64) << 32) | b as u64).or_insert(0) += 1;
            }
        }
    }

    // (neighbour, shared users, cosine similarity). Lists are pruned to the top K whenever
    // they reach 4K, so memory stays near items x K even when most pairs co-occur.
    let mut neighbours: Vec<Vec<(u32, u32, f64)>> = vec![Vec::new(); n_items];
    let neighbour_order = |a: &(u32, u32, f64), b: &(u32, u32, f64)| {
        b.2.total_cmp(&a.2)
            .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
    };
    let k = hp.max_neighbours;
    for (key, count) in pairs {
        if count < hp.min_count {
            continue;
        }
        let (a, b) = ((key >> 32) as u32, key as u32);
        let sim = round6(count as f64 / ((item_users[a as usize] * item_users[b as usize]) as f64).sqrt());
        stats.neighbour_pairs += 1;
        for (from, to) in [(a, b), (b, a)] {
            let list = &mut neighbours[from as usize];
            list.push((to, count, sim));
            if list.len() >= 4 * k {
                list.sort_unstable_by(neighbour_order);
                list.truncate(k);
            }
        }
    }
    for list in neighbours.iter_mut() {
        list.sort_unstable_by(neighbour_order);
        list.truncate(k);
        list.shrink_to_fit();
    }
    let order = by_score_then_id(names);

    // Popularity: share of active users who interacted with the item.
    let active = histories.iter().filter(|h| !h.is_empty()).count() as u64;
    let global_share: Vec<f64> = item_users.iter().map(|&c| c as f64 / active as f64).collect();
    let mut global: Vec<(u32, f64)> = (0..n_items as u32)
        .map(|i| (i, global_share[i as usize]))
        .collect();
    global.sort_unstable_by(&order);
    global.truncate(hp.num_popular);

    // Per segment: counts smoothed towards the global share with `segment_smoothing` pseudo-users.
    let mut per_segment: BTreeMap<&str, SegmentCounts> = BTreeMap::new();
    for (user, &segment) in &user_segment {
        let key = segment_keys.names[segment as usize].as_str();
        let entry = per_segment.entry(key).or_insert_with(|| SegmentCounts {
            attributes: &segment_attributes[segment as usize],
            users: 0,
            items: HashMap::new(),
        });
        let history = &histories[*user as usize];
        if !history.is_empty() {
            entry.users += 1;
        }
        for &(item, _) in history {
            *entry.items.entry(item).or_insert(0) += 1;
        }
    }
    let m = hp.segment_smoothing;
    let mut popular_lines = vec![PopularLine {
        segment: None,
        attributes: BTreeMap::new(),
        users: active,
        items: scored(&global, names),
    }];
    for (key, seg) in &per_segment {
        let counts = &seg.items;
        let denominator = seg.users as f64 + m;
        let share = |item: u32| {
            let count = counts.get(&item).copied().unwrap_or(0) as f64;
            if denominator == 0.0 {
                global_share[item as usize]
            } else {
                round6((count + m * global_share[item as usize]) / denominator)
            }
        };
        let mut candidates: Vec<u32> = counts.keys().copied().chain(global.iter().map(|g| g.0)).collect();
        candidates.sort_unstable();
        candidates.dedup();
        let mut list: Vec<(u32, f64)> = candidates.into_iter().map(|i| (i, share(i))).collect();
        list.sort_unstable_by(&order);
        list.truncate(hp.num_popular);
        popular_lines.push(PopularLine {
            segment: Some(key.to_string()),
            attributes: seg.attributes.clone(),
            users: seg.users,
            items: scored(&list, names),
        });
    }

    stats.active_users = active;
    stats.users = users.names.len() as u64;
    stats.items = n_items as u64;
    stats.segments = per_segment.len() as u64;

    std::fs::create_dir_all(model_dir).map_err(Error::io("cannot create model dir", model_dir))?;
    // A stale model.json from an earlier run must not make a half-written model look complete.
    let _ = std::fs::remove_file(model_dir.join(model::META_FILE));

    let mut item_order: Vec<u32> = (0..n_items as u32).collect();
    item_order.sort_unstable_by(|&a, &b| names[a as usize].cmp(&names[b as usize]));
    model::write_jsonl(
        &model_dir.join(model::ITEMS_FILE),
        item_order.iter().map(|&i| ItemLine {
            item_id: names[i as usize].clone(),
            users: item_users[i as usize],
            neighbours: neighbours[i as usize]
                .iter()
                .map(|&(n, users, score)| Neighbour {
                    item_id: names[n as usize].clone(),
                    score,
                    users: users as u64,
                })
                .collect(),
        }),
    )?;
    model::write_jsonl(&model_dir.join(model::POPULAR_FILE), popular_lines)?;

    let mut user_order: Vec<u32> = (0..users.names.len() as u32).collect();
    user_order.sort_unstable_by(|&a, &b| users.names[a as usize].cmp(&users.names[b as usize]));
    model::write_jsonl(
        &model_dir.join(model::USERS_FILE),
        user_order.iter().map(|&u| {
            let mut seen: Vec<String> = histories[u as usize]
                .iter()
                .map(|&(i, _)| names[i as usize].clone())
                .collect();
            seen.sort_unstable();
            UserLine {
                user_id: users.names[u as usize].clone(),
                segment: user_segment
                    .get(&u)
                    .map(|&s| segment_keys.names[s as usize].clone()),
                items: seen,
            }
        }),
    )?;

    let meta = ModelMeta {
        format: model::FORMAT.into(),
        version: model::VERSION,
        created_by: concat!("recsys ", env!("CARGO_PKG_VERSION")).into(),
        hyperparameters: hp.clone(),
        segment_columns,
        stats: stats.clone(),
    };
    let meta_path = model_dir.join(model::META_FILE);
    let text = serde_json::to_string_pretty(&meta).expect("metadata serialize");
    std::fs::write(&meta_path, text + "\n").map_err(Error::io("cannot write", &meta_path))?;
    Ok(stats)
}

fn scored(list: &[(u32, f64)], names: &[String]) -> Vec<ScoredItem> {
    list.iter()
        .map(|&(i, score)| ScoredItem {
            item_id: names[i as usize].clone(),
            score: round6(score),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::model::{ItemLine, ModelMeta, PopularLine, UserLine};
    use crate::testutil::{run, tiny_job, TempDir, TINY_HP};

    fn lines<T: serde::de::DeserializeOwned>(dir: &TempDir, rel: &str) -> Vec<T> {
        dir.read(rel)
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect()
    }

    fn neighbours(item: &ItemLine) -> Vec<(&str, f64, u64)> {
        item.neighbours
            .iter()
            .map(|n| (n.item_id.as_str(), n.score, n.users))
            .collect()
    }

    #[test]
    fn tiny_set_gives_expected_neighbours_and_popularity() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        assert!(!dir.path().join("output/failure").exists());

        let items: Vec<ItemLine> = lines(&dir, "model/items.jsonl");
        assert_eq!(
            items.iter().map(|i| i.item_id.as_str()).collect::<Vec<_>>(),
            ["i1", "i2", "i3", "i4"]
        );
        assert_eq!(items[0].users, 3);
        // i1,i2 share 3 users: cosine 3/sqrt(3*3) = 1; i1,i3 share u1: 1/sqrt(3*2).
        assert_eq!(neighbours(&items[0]), [("i2", 1.0, 3), ("i3", 0.408248, 1)]);
        // i3: i4 (1/sqrt(2*2)) beats i1 and i2 (tied, so by id), and only 2 are kept.
        assert_eq!(neighbours(&items[2]), [("i4", 0.5, 1), ("i1", 0.408248, 1)]);

        let popular: Vec<PopularLine> = lines(&dir, "model/popular.jsonl");
        let list = |p: &PopularLine| {
            p.items
                .iter()
                .map(|s| (s.item_id.clone(), s.score))
                .collect::<Vec<_>>()
        };
        assert_eq!(popular[0].segment, None);
        assert_eq!(popular[0].users, 4);
        assert_eq!(
            list(&popular[0]),
            [("i1".into(), 0.75), ("i2".into(), 0.75), ("i3".into(), 0.5)]
        );
        assert_eq!(
            popular[1].segment.as_deref(),
            Some("GENDER=F|AGE=20-39|REGION=tokyo")
        );
        assert_eq!(popular[1].users, 2);
        assert_eq!(
            list(&popular[1]),
            [("i1".into(), 1.0), ("i2".into(), 1.0), ("i3".into(), 0.5)]
        );
        assert_eq!(
            popular[2].segment.as_deref(),
            Some("GENDER=M|AGE=40+|REGION=osaka")
        );
        assert_eq!(popular[2].attributes["AGE"], "40+");
        assert_eq!(
            list(&popular[2]),
            [("i4".into(), 1.0), ("i1".into(), 0.5), ("i2".into(), 0.5)]
        );

        let users: Vec<UserLine> = lines(&dir, "model/users.jsonl");
        assert_eq!(users.len(), 5);
        assert_eq!(users[1].items, ["i1", "i2"]);
        assert_eq!(users[4].user_id, "u5");
        assert!(users[4].items.is_empty());

        let meta: ModelMeta = serde_json::from_str(&dir.read("model/model.json")).unwrap();
        assert_eq!((meta.format.as_str(), meta.version), ("recoflow-recsys", 1));
        assert_eq!(meta.stats.interactions, 11);
        assert_eq!(meta.stats.catalog_items, Some(5));
        assert_eq!(meta.stats.items_not_in_catalog, Some(0));
        assert_eq!(meta.segment_columns, ["GENDER", "AGE", "REGION"]);
        assert!(dir
            .read("output/data/training-summary.json")
            .contains("\"activeUsers\": 4"));
    }

    #[test]
    fn min_count_and_event_types_filter() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, r#"{"min_count":"2"}"#);
        assert_eq!(run(&["train"], &env), 0);
        let items: Vec<ItemLine> = lines(&dir, "model/items.jsonl");
        assert_eq!(neighbours(&items[0]), [("i2", 1.0, 3)]);
        assert!(items[2].neighbours.is_empty());

        let env = tiny_job(&dir, r#"{"event_types":"purchase"}"#);
        assert_eq!(run(&["train"], &env), 0);
        let users: Vec<UserLine> = lines(&dir, "model/users.jsonl");
        assert_eq!(users[0].items, ["i3"]);
    }

    #[test]
    fn training_is_deterministic() {
        let (a, b) = (TempDir::new(), TempDir::new());
        for dir in [&a, &b] {
            assert_eq!(run(&["train"], &tiny_job(dir, TINY_HP)), 0);
        }
        for file in ["model.json", "items.jsonl", "popular.jsonl", "users.jsonl"] {
            assert_eq!(
                a.read(&format!("model/{file}")),
                b.read(&format!("model/{file}")),
                "{file}"
            );
        }
    }

    fn failure(setup: impl FnOnce(&TempDir)) -> String {
        let dir = TempDir::new();
        let env = tiny_job(&dir, "{}");
        setup(&dir);
        assert_eq!(run(&["train"], &env), 1);
        assert!(!dir.path().join("model/model.json").exists());
        dir.read("output/failure")
    }

    #[test]
    fn failures_name_file_line_and_column() {
        let f = failure(|d| {
            d.write(
                "input/data/interactions/part-2.csv",
                "USER_ID,ITEM_ID,TIMESTAMP\nu1,i1,5\nu1,i2,yesterday\n",
            );
        });
        assert!(
            f.ends_with("interactions/part-2.csv:3 column TIMESTAMP: expected an integer Unix timestamp in seconds, got \"yesterday\""),
            "{f}"
        );

        let f = failure(|d| {
            d.write("input/data/interactions/part-2.csv", "USER,ITEM_ID,TIMESTAMP\n");
        });
        assert!(f.ends_with("part-2.csv:1 column USER_ID: required column is missing; header has [USER,ITEM_ID,TIMESTAMP]"), "{f}");

        let f = failure(|d| {
            d.write(
                "input/data/users/users.csv",
                "USER_ID,GENDER,AGE,REGION\nu1,F,twenty,tokyo\n",
            );
        });
        assert!(
            f.ends_with("users.csv:2 column AGE: expected an integer age in years, got \"twenty\""),
            "{f}"
        );

        let f = failure(|d| {
            std::fs::remove_dir_all(d.path().join("input/data/interactions")).unwrap();
            d.write("input/data/interactions/a.csv", "USER_ID,ITEM_ID,TIMESTAMP\n\n");
        });
        assert!(f.starts_with("no interactions in channel 'interactions'"), "{f}");

        let f = failure(|d| {
            std::fs::remove_dir_all(d.path().join("input/data/interactions")).unwrap();
        });
        assert!(f.starts_with("channel 'interactions' not found"), "{f}");

        let f = failure(|d| {
            d.write("input/config/hyperparameters.json", r#"{"num_popular":"0"}"#);
        });
        assert!(
            f.ends_with("hyperparameter num_popular: expected a positive integer, got \"0\""),
            "{f}"
        );
    }
}
