//! `recsys gen`: a seeded synthetic data set in Amazon Personalize's CSV layout, whose
//! tastes differ by segment, so the trained model has something real to find.
//!
//! Users are generated and written one at a time: memory grows with `--items` only.

use crate::error::{Error, Result};
use serde::Serialize;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

pub const CATEGORIES: &[&str] = &[
    "fashion",
    "beauty",
    "outdoor",
    "electronics",
    "books",
    "kitchen",
    "sports",
    "toys",
];
pub const REGIONS: &[(&str, u32)] = &[
    ("tokyo", 35),
    ("osaka", 25),
    ("nagoya", 15),
    ("fukuoka", 15),
    ("sapporo", 10),
];
/// 2023-11-14T22:13:20Z: a fixed epoch keeps files identical across runs.
const START: i64 = 1_700_000_000;
const PERIOD_SECONDS: u64 = 90 * 86_400;

#[derive(Debug, Clone)]
pub struct GenOptions {
    pub users: u64,
    pub items: u32,
    pub interactions_per_user: u32,
    pub seed: u64,
    /// Share of users with attributes but no interactions (cold start).
    pub cold_start_fraction: f64,
    pub out: PathBuf,
}

impl Default for GenOptions {
    fn default() -> Self {
        GenOptions {
            users: 200,
            items: 100,
            interactions_per_user: 10,
            seed: 42,
            cold_start_fraction: 0.05,
            out: PathBuf::from("."),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct GenSummary {
    pub users: u64,
    pub items: u64,
    pub interactions: u64,
    pub users_to_score: u64,
}

/// SplitMix64: tiny, fast and stable across platforms and versions (unlike `rand`'s
/// default generators), which is what a seeded fixture needs.
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub fn below(&mut self, n: u64) -> u64 {
        (self.unit() * n as f64) as u64
    }

    fn weighted(&mut self, weights: &[f64]) -> usize {
        let mut x = self.unit() * weights.iter().sum::<f64>();
        for (i, w) in weights.iter().enumerate() {
            if x < *w {
                return i;
            }
            x -= w;
        }
        weights.len() - 1
    }
}

/// How much a user of this segment likes each category (same order as [`CATEGORIES`]).
pub fn category_weights(gender: &str, age: u32, region: &str) -> [f64; 8] {
    let mut w = [1.0; 8];
    let [fashion, beauty, outdoor, electronics, books, kitchen, sports, toys] = [0, 1, 2, 3, 4, 5, 6, 7];
    match (gender, age) {
        ("F", 20..=39) => {
            w[fashion] += 6.0;
            w[beauty] += 4.0;
        }
        ("F", 40..) => {
            w[beauty] += 3.0;
            w[kitchen] += 4.0;
        }
        ("M", 20..=39) => {
            w[electronics] += 6.0;
            w[sports] += 3.0;
        }
        ("M", 40..) => {
            w[outdoor] += 3.0;
            w[books] += 4.0;
        }
        _ => w[toys] += 6.0,
    }
    match region {
        "tokyo" if gender == "F" && (20..=39).contains(&age) => w[fashion] += 6.0,
        "sapporo" => w[outdoor] += 4.0,
        "osaka" => w[kitchen] += 2.0,
        "fukuoka" => w[sports] += 2.0,
        _ => {}
    }
    w
}

fn width(n: u64) -> usize {
    n.max(1).to_string().len()
}

struct Out {
    path: PathBuf,
    w: BufWriter<File>,
}

impl Out {
    fn create(dir: &Path, name: &str) -> Result<Out> {
        let path = dir.join(name);
        let file = File::create(&path).map_err(Error::io("cannot create", &path))?;
        Ok(Out {
            w: BufWriter::with_capacity(64 * 1024, file),
            path,
        })
    }

    fn line(&mut self, text: std::fmt::Arguments) -> Result<()> {
        self.w
            .write_fmt(text)
            .and_then(|_| self.w.write_all(b"\n"))
            .map_err(Error::io("cannot write", &self.path))
    }

    fn finish(mut self) -> Result<()> {
        self.w.flush().map_err(Error::io("cannot write", &self.path))
    }
}

pub fn generate(opts: &GenOptions) -> Result<GenSummary> {
    if opts.users == 0 || opts.items == 0 {
        return Err(Error::Invalid("--users and --items must be at least 1".into()));
    }
    if !(0.0..=1.0).contains(&opts.cold_start_fraction) {
        return Err(Error::Invalid(
            "--cold-start-fraction must be between 0 and 1".into(),
        ));
    }
    std::fs::create_dir_all(&opts.out).map_err(Error::io("cannot create", &opts.out))?;
    let mut rng = Rng::new(opts.seed);
    let mut summary = GenSummary::default();

    let item_width = width(opts.items as u64);
    let mut by_category: Vec<Vec<u32>> = vec![Vec::new(); CATEGORIES.len()];
    let mut items = Out::create(&opts.out, "items.csv")?;
    items.line(format_args!("ITEM_ID,CATEGORY"))?;
    for i in 0..opts.items {
        // Round-robin categories so every category has items even in tiny sets.
        let c = i as usize % CATEGORIES.len();
        by_category[c].push(i);
        items.line(format_args!("i{:0item_width$},{}", i, CATEGORIES[c]))?;
    }
    items.finish()?;
    summary.items = opts.items as u64;

    let mut users = Out::create(&opts.out, "users.csv")?;
    let mut interactions = Out::create(&opts.out, "interactions.csv")?;
    let mut to_score = Out::create(&opts.out, "users-to-score.jsonl")?;
    users.line(format_args!("USER_ID,GENDER,AGE,REGION"))?;
    interactions.line(format_args!("USER_ID,ITEM_ID,TIMESTAMP,EVENT_TYPE"))?;
    let user_width = width(opts.users);
    let region_weights: Vec<f64> = REGIONS.iter().map(|r| r.1 as f64).collect();
    let mut times = Vec::new();
    for u in 0..opts.users {
        let id = format!("u{:0user_width$}", u);
        let gender = if rng.unit() < 0.5 { "F" } else { "M" };
        let age = 16 + rng.below(60) as u32;
        let region = REGIONS[rng.weighted(&region_weights)].0;
        users.line(format_args!("{id},{gender},{age},{region}"))?;
        to_score.line(format_args!("{{\"userId\":\"{id}\"}}"))?;
        summary.users += 1;
        summary.users_to_score += 1;
        if rng.unit() < opts.cold_start_fraction {
            continue;
        }
        let weights = category_weights(gender, age, region);
        times.clear();
        times.extend((0..opts.interactions_per_user).map(|_| START + rng.below(PERIOD_SECONDS) as i64));
        times.sort_unstable();
        for &t in &times {
            // Mostly taste-driven, some noise; within a category a few items are hits.
            let c = if rng.unit() < 0.8 {
                rng.weighted(&weights)
            } else {
                rng.below(CATEGORIES.len() as u64) as usize
            };
            let pool = &by_category[c];
            if pool.is_empty() {
                continue;
            }
            let x = rng.unit();
            let item = pool[((x * x) * pool.len() as f64) as usize];
            let event = if rng.unit() < 0.15 { "purchase" } else { "click" };
            interactions.line(format_args!("{id},i{:0item_width$},{t},{event}", item))?;
            summary.interactions += 1;
        }
    }
    // A few users nobody has seen, as a real batch would contain: they get global popularity.
    for n in 0..(opts.users / 50).max(1) {
        to_score.line(format_args!("{{\"userId\":\"new-{n}\"}}"))?;
        summary.users_to_score += 1;
    }
    users.finish()?;
    interactions.finish()?;
    to_score.finish()?;
    Ok(summary)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::testutil::{run, TempDir};
    use std::collections::HashMap;

    fn gen(dir: &TempDir, users: u64, seed: u64) -> GenSummary {
        generate(&GenOptions {
            users,
            seed,
            out: dir.path().to_path_buf(),
            ..GenOptions::default()
        })
        .unwrap()
    }

    #[test]
    fn same_seed_same_bytes_other_seed_other_data() {
        let (a, b, c) = (TempDir::new(), TempDir::new(), TempDir::new());
        let summary = gen(&a, 200, 7);
        gen(&b, 200, 7);
        gen(&c, 200, 8);
        for file in [
            "interactions.csv",
            "users.csv",
            "items.csv",
            "users-to-score.jsonl",
        ] {
            assert_eq!(a.read(file), b.read(file), "{file}");
        }
        assert_ne!(a.read("interactions.csv"), c.read("interactions.csv"));
        assert_eq!(summary.users, 200);
        assert_eq!(summary.users_to_score, 204);
        assert_eq!(a.read("users.csv").lines().count(), 201);
        assert_eq!(
            a.read("interactions.csv").lines().count() as u64,
            summary.interactions + 1
        );
        assert!(a
            .read("users-to-score.jsonl")
            .starts_with("{\"userId\":\"u000\"}\n"));
    }

    #[test]
    fn segments_prefer_different_categories() {
        let dir = TempDir::new();
        gen(&dir, 2000, 1);
        let users: HashMap<String, (String, u32, String)> = dir
            .read("users.csv")
            .lines()
            .skip(1)
            .map(|l| {
                let f: Vec<&str> = l.split(',').collect();
                (
                    f[0].to_string(),
                    (f[1].to_string(), f[2].parse().unwrap(), f[3].to_string()),
                )
            })
            .collect();
        let category: HashMap<String, String> = dir
            .read("items.csv")
            .lines()
            .skip(1)
            .map(|l| {
                l.split_once(',')
                    .map(|(a, b)| (a.to_string(), b.to_string()))
                    .unwrap()
            })
            .collect();
        // Share of interactions in `cat` among users matching `pred`.
        let share = |pred: &dyn Fn(&(String, u32, String)) -> bool, cat: &str| {
            let (mut hit, mut all) = (0, 0);
            for l in dir.read("interactions.csv").lines().skip(1) {
                let f: Vec<&str> = l.split(',').collect();
                if pred(&users[f[0]]) {
                    all += 1;
                    hit += (category[f[1]] == cat) as u32;
                }
            }
            hit as f64 / all as f64
        };
        let young_women_tokyo =
            |u: &(String, u32, String)| u.0 == "F" && (20..40).contains(&u.1) && u.2 == "tokyo";
        let older_men = |u: &(String, u32, String)| u.0 == "M" && u.1 >= 40;
        assert!(share(&young_women_tokyo, "fashion") > 0.45);
        assert!(share(&older_men, "fashion") < 0.15);
        assert!(share(&older_men, "books") > 2.0 * share(&young_women_tokyo, "books"));
    }

    #[test]
    fn generated_data_trains_and_scores_end_to_end() {
        let dir = TempDir::new();
        let data = dir.path().join("input/data");
        assert_eq!(
            run(
                &[
                    "gen",
                    "--users",
                    "300",
                    "--seed",
                    "3",
                    "--out",
                    data.to_str().unwrap()
                ],
                &Default::default()
            ),
            0
        );
        // Spread the files over SageMaker channels the way an emulator would.
        for (file, channel) in [
            ("interactions.csv", "interactions"),
            ("users.csv", "users"),
            ("items.csv", "items"),
        ] {
            std::fs::create_dir_all(data.join(channel)).unwrap();
            std::fs::rename(data.join(file), data.join(channel).join(file)).unwrap();
        }
        let env = crate::env::Env::from_pairs([(crate::env::OPT_ML_VAR, dir.path().to_str().unwrap())]);
        assert_eq!(run(&["train"], &env), 0);
        let popular = dir.read("model/popular.jsonl");
        let tokyo = popular
            .lines()
            .find(|l| l.contains("GENDER=F|AGE=20-29|REGION=tokyo"))
            .unwrap();
        let top: crate::model::PopularLine = serde_json::from_str(tokyo).unwrap();
        // Items are assigned categories round-robin: i000, i008, ... are fashion.
        let fashion = top.items[..5]
            .iter()
            .filter(|s| s.item_id[1..].parse::<u32>().unwrap() % 8 == 0)
            .count();
        assert!(fashion >= 3, "{tokyo}");

        let input = data.join("users-to-score.jsonl");
        let out = dir.path().join("out");
        let args = [
            "score",
            "--input",
            input.to_str().unwrap(),
            "--output",
            out.to_str().unwrap(),
            "--model-dir",
        ];
        let model = dir.path().join("model");
        let mut args = args.to_vec();
        args.push(model.to_str().unwrap());
        assert_eq!(run(&args, &env), 0);
        let lines = std::fs::read_to_string(out.join("users-to-score.jsonl.out")).unwrap();
        assert_eq!(lines.lines().count(), 306);
        assert!(lines
            .lines()
            .all(|l| l.contains("\"error\":null") && l.contains("\"recommendedItems\":[\"i")));
    }

    #[test]
    fn bad_flags_are_usage_errors() {
        assert_eq!(run(&["gen", "--users", "many"], &Default::default()), 2);
        assert_eq!(run(&["gen", "--colour", "red"], &Default::default()), 2);
        assert_eq!(run(&["frobnicate"], &Default::default()), 2);
        assert_eq!(run(&["train", "extra"], &Default::default()), 2);
        assert_eq!(run(&["score", "--input"], &Default::default()), 2);
        assert_eq!(run(&["score", "--help"], &Default::default()), 0);
    }
}
