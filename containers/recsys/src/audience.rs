//! `recsys audience`: for each given item (`{"itemId": …}`) or item filter
//! (`{"itemAttributes": "ITEMS.CATEGORY = \"coat\""}`), the candidate users most drawn to it,
//! as Amazon Personalize's batch segment jobs answer (aws-item-affinity,
//! aws-item-attribute-affinity): one output line per input line,
//! `{"input": …, "output": {"scores": [...], "usersList": [...]}, "error": null}`, best first.
//! Only the users given (`--users`, `{"userId": …}` lines: the segment) are ranked.
//!
//! A user's affinity to an item is `score`'s ranking seen from the item: the mean similarity of
//! the item to the items the user interacted with (the item itself counts 1), plus
//! `popularity_weight ×` the item's popularity in the user's segment (else globally). To an
//! item filter: the mean over the matching items. Users with no affinity at all are left out.
//!
//! Users are streamed once for every item; memory holds the model, the items' lookups and, per
//! item, its best `--num-results` users (a bounded heap): it does not grow with the users read.

use crate::batch::{
    for_each_line, id_line, input_files, output_file, ExtractedModel, OutputFile, OutputLine,
};
use crate::error::{Error, Result};
use crate::item_filter::{matching_items, ItemFilter};
use crate::model::{round6, Model};
use serde::Serialize;
use std::cmp::{Ordering, Reverse};
use std::collections::{BinaryHeap, HashMap};
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct AudienceOptions {
    /// A directory with `model.json` (or holding / being a SageMaker `model.tar.gz`).
    pub model: PathBuf,
    /// The items: a JSON-lines file, or a directory whose files are all read.
    pub items: PathBuf,
    /// The candidate users: a JSON-lines file of `{"userId": …}`, or a directory of them.
    pub users: PathBuf,
    /// The items CSV (or a directory of them): needed by `itemAttributes` lines.
    pub catalog: Option<PathBuf>,
    pub output: PathBuf,
    /// Users per item, at most.
    pub num_results: usize,
    /// Users below this affinity are left out.
    pub min_score: Option<f64>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceSummary {
    pub files: u64,
    /// Item lines read.
    pub lines: u64,
    /// Item lines answered with an error.
    pub errors: u64,
    /// Candidate users read.
    pub users: u64,
    /// Candidate lines without a usable `userId`.
    pub skipped_users: u64,
}

/// What one batch segment answers for one input line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Segment<'a> {
    /// Before the users, so that a reader can stream a long line.
    scores: Vec<f64>,
    users_list: Vec<&'a str>,
}

pub fn audience(opts: &AudienceOptions) -> Result<AudienceSummary> {
    if opts.num_results == 0 {
        return Err(Error::Invalid("--num-results must be at least 1".into()));
    }
    let model = ExtractedModel::load(&opts.model)?;
    let mut summary = AudienceSummary::default();
    let wanted = read_item_lines(opts, &mut summary)?;
    let (lines, targets) = Targets::resolve(&model, opts.catalog.as_deref(), wanted)?;
    let mut ranking = Ranking::new(&targets, opts.num_results, opts.min_score);
    for (users, _) in input_files(&opts.users)? {
        for_each_line(&users, |line| {
            summary.users += 1;
            match id_line(line, "userId").1 {
                Ok(user_id) => ranking.add_user(&model, &targets, &user_id),
                Err(_) => summary.skipped_users += 1,
            }
            Ok(())
        })?;
    }
    let ranked = ranking.finish();
    std::fs::create_dir_all(&opts.output).map_err(Error::io("cannot create output dir", &opts.output))?;
    for (file, (_, relative)) in input_files(&opts.items)?.into_iter().enumerate() {
        let mut writer = OutputFile::create(&output_file(&opts.output, &relative)?)?;
        let mut out = Vec::new();
        for line in lines.iter().filter(|l| l.file == file) {
            out.clear();
            match &line.target {
                Ok(target) => {
                    let users = &ranked[*target];
                    OutputLine {
                        input: &line.input,
                        output: Some(Segment {
                            scores: users.iter().map(|u| u.score).collect(),
                            users_list: users.iter().map(|u| &*u.user_id).collect(),
                        }),
                        error: None,
                    }
                    .write_to(&mut out);
                }
                Err(error) => {
                    summary.errors += 1;
                    OutputLine::<Segment> {
                        input: &line.input,
                        output: None,
                        error: Some(error.clone()),
                    }
                    .write_to(&mut out);
                }
            }
            writer.write(&out)?;
        }
        writer.finish()?;
    }
    Ok(summary)
}

/// What an item line names, before it is resolved against the model.
enum Wanted {
    Item(String),
    Filter(ItemFilter),
}

/// An item line as read: its input file, the line as JSON, what it names or why it names nothing.
struct ReadLine {
    file: usize,
    input: serde_json::Value,
    wanted: std::result::Result<Wanted, String>,
}

/// An item line, resolved: the index of its target (see [`Targets`]), or why it has none.
struct ItemLine {
    file: usize,
    input: serde_json::Value,
    target: std::result::Result<usize, String>,
}

fn wanted(line: &str) -> (serde_json::Value, std::result::Result<Wanted, String>) {
    let (input, item) = id_line(line, "itemId");
    let wanted = match (item, input.get("itemAttributes")) {
        (Ok(item), _) => Ok(Wanted::Item(item)),
        (Err(_), Some(serde_json::Value::String(expression))) => {
            ItemFilter::parse(expression).map(Wanted::Filter)
        }
        (Err(_), Some(_)) => Err("itemAttributes must be a string".to_string()),
        (Err(_), None) if input.is_object() => Err("missing itemId or itemAttributes".to_string()),
        (Err(error), None) => Err(error),
    };
    (input, wanted)
}

/// Every input file's item lines, in order.
fn read_item_lines(opts: &AudienceOptions, summary: &mut AudienceSummary) -> Result<Vec<ReadLine>> {
    let mut lines = Vec::new();
    for (file, (items, _)) in input_files(&opts.items)?.into_iter().enumerate() {
        for_each_line(&items, |line| {
            let (input, wanted) = wanted(line);
            lines.push(ReadLine { file, input, wanted });
            Ok(())
        })?;
        summary.files += 1;
    }
    summary.lines = lines.len() as u64;
    Ok(lines)
}

/// The items of every line that has some, and the lookups a user is scored with.
struct Targets {
    /// Per target, how many items it stands for.
    sizes: Vec<usize>,
    /// Item → the targets it belongs to (only items of some target).
    of_item: HashMap<u32, Vec<u32>>,
    /// Per target, its items' mean popularity: `[global, segment 0, segment 1, …]`.
    popularity: Vec<Vec<f64>>,
}

impl Targets {
    /// Resolves every line's items against the model (and the catalogue, for item filters);
    /// a line naming nothing the model saw gets an error instead, as Personalize answers.
    fn resolve(
        model: &Model,
        catalog: Option<&std::path::Path>,
        read: Vec<ReadLine>,
    ) -> Result<(Vec<ItemLine>, Targets)> {
        let filters: Vec<ItemFilter> = read
            .iter()
            .filter_map(|l| match &l.wanted {
                Ok(Wanted::Filter(filter)) => Some(filter.clone()),
                _ => None,
            })
            .collect();
        let mut matched = match (filters.is_empty(), catalog) {
            (true, _) => Vec::new(),
            (false, Some(catalog)) if catalog.exists() => matching_items(catalog, &filters)?,
            (false, _) => {
                return Err(Error::Invalid(
                    "itemAttributes lines need the items file: pass --catalog (or put it under processing/input/catalog)".into(),
                ))
            }
        }
        .into_iter();
        let index: HashMap<&str, u32> = model
            .item_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        let mut targets = Targets {
            sizes: Vec::new(),
            of_item: HashMap::new(),
            popularity: Vec::new(),
        };
        let mut lines = Vec::with_capacity(read.len());
        for line in read {
            let items = match line.wanted {
                Err(error) => Err(error),
                Ok(Wanted::Item(item)) => index
                    .get(item.as_str())
                    .map(|&i| vec![i])
                    .ok_or_else(|| format!("Item {item} was not in the training data of the model.")),
                Ok(Wanted::Filter(_)) => {
                    let items: Vec<u32> = matched
                        .next()
                        .unwrap_or_default()
                        .iter()
                        .filter_map(|id| index.get(id.as_str()).copied())
                        .collect();
                    let expression = line
                        .input
                        .get("itemAttributes")
                        .and_then(|e| e.as_str())
                        .unwrap_or_default();
                    Some(items)
                        .filter(|items| !items.is_empty())
                        .ok_or_else(|| format!("No item of the training data matches {expression}."))
                }
            };
            let target = items.map(|items| targets.add(items));
            lines.push(ItemLine {
                file: line.file,
                input: line.input,
                target,
            });
        }
        targets.popularity = targets.popularity_table(model);
        Ok((lines, targets))
    }

    fn add(&mut self, mut items: Vec<u32>) -> usize {
        items.sort_unstable();
        items.dedup();
        let target = self.sizes.len();
        self.sizes.push(items.len());
        for item in items {
            self.of_item.entry(item).or_default().push(target as u32);
        }
        target
    }

    /// Each target's mean item popularity in every list of the model (global first).
    fn popularity_table(&self, model: &Model) -> Vec<Vec<f64>> {
        let lists = std::iter::once(&model.global).chain(model.segments.iter());
        let mut table = vec![vec![0.0; model.segments.len() + 1]; self.sizes.len()];
        for (column, list) in lists.enumerate() {
            for &(item, popularity) in list {
                for &target in self.of_item.get(&item).into_iter().flatten() {
                    table[target as usize][column] += popularity / self.sizes[target as usize] as f64;
                }
            }
        }
        table
    }
}

/// A user in a target's audience.
#[derive(Debug, Clone, PartialEq)]
struct Ranked {
    score: f64,
    user_id: Box<str>,
}

impl Eq for Ranked {}

impl Ord for Ranked {
    /// Better first is greater: higher score, then the smaller id (ties never depend on order).
    fn cmp(&self, other: &Self) -> Ordering {
        self.score
            .total_cmp(&other.score)
            .then_with(|| other.user_id.cmp(&self.user_id))
    }
}

impl PartialOrd for Ranked {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// Every target's best users so far, and the scratch space of one user's scores.
struct Ranking {
    /// Per target, a min-heap of its best `capacity` users.
    heaps: Vec<BinaryHeap<Reverse<Ranked>>>,
    capacity: usize,
    /// Users scoring below are left out; never below the smallest positive score (no affinity
    /// is no audience).
    min_score: f64,
    /// Per target, the summed similarity of the current user's items to its items.
    similarity: Vec<f64>,
}

impl Ranking {
    fn new(targets: &Targets, capacity: usize, min_score: Option<f64>) -> Self {
        Ranking {
            heaps: vec![BinaryHeap::new(); targets.sizes.len()],
            capacity,
            min_score: min_score.unwrap_or(0.0).max(f64::MIN_POSITIVE),
            similarity: vec![0.0; targets.sizes.len()],
        }
    }

    /// Scores one candidate against every target and keeps it where it ranks.
    fn add_user(&mut self, model: &Model, targets: &Targets, user_id: &str) {
        let known = model.users.get(user_id);
        let seen: &[u32] = known.map(|u| &u.items[..]).unwrap_or(&[]);
        self.similarity.iter_mut().for_each(|s| *s = 0.0);
        for &item in seen {
            let itself = std::iter::once((item, 1.0));
            for (near, similarity) in itself.chain(model.neighbours[item as usize].iter().copied()) {
                for &target in targets.of_item.get(&near).into_iter().flatten() {
                    self.similarity[target as usize] += similarity;
                }
            }
        }
        let column = known.and_then(|u| u.segment).map_or(0, |s| s as usize + 1);
        let weight = model.meta.hyperparameters.popularity_weight;
        let history = seen.len().max(1) as f64;
        for (target, heap) in self.heaps.iter_mut().enumerate() {
            let co_interaction = self.similarity[target] / history / targets.sizes[target] as f64;
            let score = round6(co_interaction + weight * targets.popularity[target][column]);
            if score < self.min_score {
                continue;
            }
            if heap.len() == self.capacity {
                let worst = &heap.peek().expect("a full heap").0;
                let better = score
                    .total_cmp(&worst.score)
                    .then_with(|| (*worst.user_id).cmp(user_id))
                    .is_gt();
                if !better {
                    continue;
                }
                heap.pop();
            }
            heap.push(Reverse(Ranked {
                score,
                user_id: user_id.into(),
            }));
        }
    }

    /// Each target's users, best first.
    fn finish(self) -> Vec<Vec<Ranked>> {
        self.heaps
            .into_iter()
            .map(|heap| {
                let mut users: Vec<Ranked> = heap.into_iter().map(|r| r.0).collect();
                users.sort_unstable_by(|a, b| b.cmp(a));
                users
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{clustered_job, run, tiny_job, TempDir, TINY_HP};

    /// Trains the tiny model and runs `audience` on `items` with the candidates `users`.
    fn audience(items: &str, users: &str, extra: &[&str]) -> (i32, Vec<String>, TempDir) {
        audience_of_parts(items, &[("users.jsonl", users)], extra)
    }

    /// The same with the candidates in these files (path under the users input, lines).
    fn audience_of_parts(items: &str, parts: &[(&str, &str)], extra: &[&str]) -> (i32, Vec<String>, TempDir) {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        dir.write("processing/input/items/items.jsonl", items);
        for (path, users) in parts {
            dir.write(&format!("processing/input/users/{path}"), users);
        }
        let model = dir.path().join("model");
        let catalog = dir.path().join("input/data/items");
        let mut args = vec![
            "audience",
            "--model-dir",
            model.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
        ];
        args.extend_from_slice(extra);
        let code = run(&args, &env);
        let out = std::fs::read_to_string(dir.path().join("processing/output/items.jsonl.out"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (code, out, dir)
    }

    const EVERYONE: &str = "{\"userId\":\"u1\"}\n{\"userId\":\"u2\"}\n{\"userId\":\"u3\"}\n{\"userId\":\"u4\"}\n{\"userId\":\"u5\"}\n";

    #[test]
    fn users_are_ranked_by_affinity_to_an_item_in_the_batch_segment_format() {
        // i4 for u4 {i3,i4}: (i4 itself 1 + i3's neighbour i4 0.5) / 2 items + 0.1 x 1.0 (i4 in
        // the M|40+|osaka list) = 0.85; u3 {i1,i2,i4}: 1/3 + 0.1 = 0.433333; u1 {i1,i2,i3}:
        // 0.5/3 = 0.166667; u2 and u5 have no affinity at all and are left out.
        let (code, out, _dir) = audience("{\"itemId\":\"i4\"}\n", EVERYONE, &[]);
        assert_eq!(code, 0);
        assert_eq!(
            out,
            [
                r#"{"input":{"itemId":"i4"},"output":{"scores":[0.85,0.433333,0.166667],"usersList":["u4","u3","u1"]},"error":null}"#
            ]
        );
    }

    #[test]
    fn an_item_filter_ranks_by_the_mean_affinity_to_the_items_that_match() {
        // CATEGORY a = {i1, i2}. u2 {i1,i2}: (1+1+1+1)/2/2 + 0.1 x 1.0 = 1.1; u1 adds i3, whose
        // neighbour i1 (0.408248) makes 4.408248/3/2 + 0.1 = 0.834708; u5 (no history) has
        // the segment's popularity only: 0.1.
        let (code, out, _dir) = audience(
            "{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"a\\\"\"}\n",
            EVERYONE,
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!(
            out,
            [
                r#"{"input":{"itemAttributes":"ITEMS.CATEGORY = \"a\""},"output":{"scores":[1.1,0.834708,0.784708,0.254124,0.1],"usersList":["u2","u1","u3","u4","u5"]},"error":null}"#
            ]
        );
    }

    #[test]
    fn the_candidates_of_every_part_are_ranked_together() {
        // Prepare's parts in their group folders: u4 (the best) in the last.
        let parts = [
            (
                "g0000/part-00000.jsonl",
                "{\"userId\":\"u1\"}\n{\"userId\":\"u2\"}\n",
            ),
            ("g0000/part-00001.jsonl", "{\"userId\":\"u3\"}\n"),
            (
                "g0001/part-00002.jsonl",
                "{\"userId\":\"u4\"}\n{\"userId\":\"u5\"}\n",
            ),
        ];
        let (code, out, _dir) = audience_of_parts("{\"itemId\":\"i4\"}\n", &parts, &[]);
        assert_eq!(code, 0);
        assert!(out[0].contains(r#""usersList":["u4","u3","u1"]"#), "{}", out[0]);
    }

    #[test]
    fn only_the_candidates_given_at_most_n_of_them_and_none_below_the_minimum() {
        let (_, out, _dir) = audience(
            "{\"itemId\":\"i4\"}\n",
            "{\"userId\":\"u1\"}\n{\"userId\":\"u3\"}\nbad\n",
            &[],
        );
        assert!(out[0].contains(r#""usersList":["u3","u1"]"#), "{}", out[0]);
        let (_, out, _dir) = audience("{\"itemId\":\"i4\"}\n", EVERYONE, &["--num-results", "2"]);
        assert!(out[0].contains(r#""usersList":["u4","u3"]"#), "{}", out[0]);
        let (_, out, _dir) = audience("{\"itemId\":\"i4\"}\n", EVERYONE, &["--min-score", "0.4"]);
        assert!(out[0].contains(r#""usersList":["u4","u3"]"#), "{}", out[0]);
    }

    #[test]
    fn lines_naming_nothing_the_model_saw_get_an_error_line_in_their_place() {
        let (code, out, _dir) = audience(
            concat!(
                "{\"itemId\":\"i9\"}\n",
                "{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"zzz\\\"\"}\n",
                "{\"itemAttributes\":\"ITEMS.CATEGORY > 3\"}\n",
                "{\"user\":1}\n",
                "{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"b\\\"\"}\n",
            ),
            EVERYONE,
            &["--num-results", "1"],
        );
        assert_eq!(code, 0);
        assert_eq!(
            out[0],
            r#"{"input":{"itemId":"i9"},"output":null,"error":"Item i9 was not in the training data of the model."}"#
        );
        assert!(
            out[1].ends_with(r#""error":"No item of the training data matches ITEMS.CATEGORY = \"zzz\"."}"#),
            "{}",
            out[1]
        );
        assert!(out[2].contains("Invalid itemAttributes expression"), "{}", out[2]);
        assert!(
            out[3].ends_with(r#""error":"missing itemId or itemAttributes"}"#),
            "{}",
            out[3]
        );
        // b = {i3, i4, i5}; i5 was never interacted with and does not count.
        assert!(out[4].contains(r#""usersList":["u4"]"#), "{}", out[4]);
    }

    #[test]
    fn item_filters_without_the_catalogue_fail_the_job_saying_what_is_missing() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        dir.write(
            "processing/input/items/a.jsonl",
            "{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"a\\\"\"}\n",
        );
        dir.write("processing/input/users/a.jsonl", EVERYONE);
        dir.write("processing/input/model/x", "");
        let model = dir.path().join("model");
        assert_eq!(
            run(&["audience", "--model-dir", model.to_str().unwrap()], &env),
            1
        );
        assert!(
            dir.read("output/message").contains("pass --catalog"),
            "{}",
            dir.read("output/message")
        );
        assert_eq!(run(&["audience", "--min-score", "x"], &env), 2);
    }

    #[test]
    fn an_audience_for_an_item_of_a_taste_cluster_is_made_of_that_cluster_s_users() {
        let dir = TempDir::new();
        let (env, clusters) = clustered_job(&dir);
        assert_eq!(run(&["train"], &env), 0);
        dir.write(
            "processing/input/items/items.jsonl",
            "{\"itemId\":\"c2-i03\"}\n{\"itemAttributes\":\"ITEMS.CATEGORY = \\\"c1\\\"\"}\n",
        );
        let candidates: String = clusters
            .keys()
            .map(|u| format!("{{\"userId\":\"{u}\"}}\n"))
            .collect();
        dir.write("processing/input/users/users.jsonl", &candidates);
        let (model, catalog) = (dir.path().join("model"), dir.path().join("input/data/items"));
        let args = [
            "--model-dir",
            model.to_str().unwrap(),
            "--catalog",
            catalog.to_str().unwrap(),
        ];
        assert_eq!(
            run(&[&["audience", "--num-results", "100"][..], &args].concat(), &env),
            0
        );
        let out = dir.read("processing/output/items.jsonl.out");
        for (line, cluster) in out.lines().zip([2, 1]) {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let users = line["output"]["usersList"].as_array().unwrap();
            assert_eq!(users.len(), 100);
            let scores = line["output"]["scores"].as_array().unwrap();
            assert!(
                scores.windows(2).all(|w| w[0].as_f64() >= w[1].as_f64()),
                "best first"
            );
            let inside = users
                .iter()
                .filter(|u| clusters[u.as_str().unwrap()] == cluster)
                .count();
            assert!(inside >= 80, "{inside} of 100 from cluster {cluster}");
        }
    }
}
