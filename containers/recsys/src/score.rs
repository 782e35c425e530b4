//! `recsys score`: Amazon Personalize-style batch inference as a SageMaker Processing job.
//!
//! Input and output are streamed line by line, so memory depends on the model only.

use crate::batch::{
    for_each_line, id_line, input_files, output_file, ExtractedModel, OutputFile, OutputLine,
};
use crate::error::{Error, Result};
use crate::model::{round6, Model};
use serde::Serialize;
use std::collections::HashMap;
use std::path::{Path, PathBuf};

#[derive(Debug, Clone)]
pub struct ScoreOptions {
    /// A directory with `model.json` (or holding / being a SageMaker `model.tar.gz`).
    pub model: PathBuf,
    /// A JSON-lines file, or a directory whose files are all scored.
    pub input: PathBuf,
    pub output: PathBuf,
    pub num_results: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScoreSummary {
    pub files: u64,
    pub lines: u64,
    pub errors: u64,
}

/// What Personalize's batch inference answers for one input line.
#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Recommendations<'a> {
    pub recommended_items: Vec<&'a str>,
    pub scores: Vec<f64>,
}

pub fn score(opts: &ScoreOptions) -> Result<ScoreSummary> {
    if opts.num_results == 0 {
        return Err(Error::Invalid("--num-results must be at least 1".into()));
    }
    let model = ExtractedModel::load(&opts.model)?;
    let inputs = input_files(&opts.input)?;
    std::fs::create_dir_all(&opts.output).map_err(Error::io("cannot create output dir", &opts.output))?;
    let mut summary = ScoreSummary::default();
    let mut scorer = Scorer::new(&model);
    for (input, relative) in inputs {
        let output = output_file(&opts.output, &relative)?;
        score_file(&mut scorer, &input, &output, opts.num_results, &mut summary)?;
        summary.files += 1;
    }
    Ok(summary)
}

fn score_file(
    scorer: &mut Scorer,
    input: &Path,
    output: &Path,
    num_results: usize,
    summary: &mut ScoreSummary,
) -> Result<()> {
    let mut writer = OutputFile::create(output)?;
    let mut out = Vec::new();
    for_each_line(input, |line| {
        out.clear();
        if !scorer.score_line(line, num_results, &mut out) {
            summary.errors += 1;
        }
        summary.lines += 1;
        writer.write(&out)
    })?;
    writer.finish()
}

/// Scores users against a model, reusing its scratch space between users.
pub struct Scorer<'m> {
    model: &'m Model,
    candidates: HashMap<u32, f64>,
    ranked: Vec<(u32, f64)>,
}

impl<'m> Scorer<'m> {
    pub fn new(model: &'m Model) -> Self {
        Scorer {
            model,
            candidates: HashMap::new(),
            ranked: Vec::new(),
        }
    }

    /// Appends the output line (with its newline) for one input line to `out`; `false`
    /// when the line was malformed and carries an error instead of recommendations.
    pub fn score_line(&mut self, line: &str, num_results: usize, out: &mut Vec<u8>) -> bool {
        let (input, user_id) = id_line(line, "userId");
        match user_id {
            Ok(user_id) => {
                let model = self.model;
                let ranked = self.recommend(&user_id, num_results);
                OutputLine {
                    input: &input,
                    output: Some(Recommendations {
                        recommended_items: ranked
                            .iter()
                            .map(|&(i, _)| model.item_ids[i as usize].as_str())
                            .collect(),
                        scores: ranked.iter().map(|&(_, s)| s).collect(),
                    }),
                    error: None,
                }
                .write_to(out);
                true
            }
            Err(error) => {
                OutputLine::<Recommendations> {
                    input: &input,
                    output: None,
                    error: Some(error),
                }
                .write_to(out);
                false
            }
        }
    }

    /// Top items for a user, best first: co-occurrence with their history plus weighted
    /// popularity of their segment (or global); users without history get popularity only.
    pub fn recommend(&mut self, user_id: &str, n: usize) -> &[(u32, f64)] {
        let model = self.model;
        let known = model.users.get(user_id);
        let seen: &[u32] = known.map(|u| &u.items[..]).unwrap_or(&[]);
        let is_seen = |item: &u32| seen.binary_search(item).is_ok();
        let candidates = &mut self.candidates;
        candidates.clear();

        let share = 1.0 / seen.len().max(1) as f64;
        for &s in seen {
            for &(item, sim) in model.neighbours[s as usize].iter() {
                if !is_seen(&item) {
                    *candidates.entry(item).or_insert(0.0) += sim * share;
                }
            }
        }

        let weight = if seen.is_empty() {
            1.0
        } else {
            model.meta.hyperparameters.popularity_weight
        };
        let segment = known.and_then(|u| u.segment).map(|s| &model.segments[s as usize]);
        let popular = segment.unwrap_or(&model.global);
        for &(item, pop) in popular {
            if !is_seen(&item) {
                *candidates.entry(item).or_insert(0.0) += weight * pop;
            }
        }
        // A short segment list is topped up from the global one, scaled to rank below it.
        if let (Some(list), Some(&(_, top))) = (segment, model.global.first()) {
            if candidates.len() < n && top > 0.0 {
                let floor = list.last().map_or(0.0, |l| l.1) / top;
                for &(item, pop) in &model.global {
                    if !is_seen(&item) && !candidates.contains_key(&item) {
                        candidates.insert(item, weight * pop * floor);
                    }
                }
            }
        }

        self.ranked.clear();
        self.ranked
            .extend(candidates.iter().map(|(&i, &s)| (i, round6(s))));
        let names = &model.item_ids;
        self.ranked.sort_unstable_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then_with(|| names[a.0 as usize].cmp(&names[b.0 as usize]))
        });
        self.ranked.truncate(n);
        &self.ranked
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{run, tiny_job, TempDir, TINY_HP};

    /// Trains the tiny model, scores `input` and returns the `.out` lines.
    fn score(input: &str, extra: &[&str]) -> Vec<String> {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        dir.write("processing/input/users/batch.json", input);
        let model = dir.path().join("model");
        let mut args = vec!["score", "--model-dir", model.to_str().unwrap()];
        args.extend_from_slice(extra);
        assert_eq!(run(&args, &env), 0);
        dir.read("processing/output/batch.json.out")
            .lines()
            .map(str::to_string)
            .collect()
    }

    #[test]
    fn personalize_format_in_input_order() {
        let out = score(
            "{\"userId\":\"zz\"}\n\n{\"userId\":\"u2\"}\n{\"userId\":\"u5\"}\n",
            &["--num-results", "2"],
        );
        // Unknown user: global popularity.
        assert_eq!(
            out[0],
            r#"{"input":{"userId":"zz"},"output":{"recommendedItems":["i1","i2"],"scores":[0.75,0.75]},"error":null}"#
        );
        // u2 saw i1,i2. Their top-2 neighbours hold i3 (0.408248; i4 ties but loses on id),
        // plus 0.1 x 0.5 from the F|20-39|tokyo list; i4 is in neither list, so one result.
        assert_eq!(
            out[1],
            r#"{"input":{"userId":"u2"},"output":{"recommendedItems":["i3"],"scores":[0.458248]},"error":null}"#
        );
        // u5 has attributes but no history: their segment's popularity.
        assert_eq!(
            out[2],
            r#"{"input":{"userId":"u5"},"output":{"recommendedItems":["i1","i2"],"scores":[1.0,1.0]},"error":null}"#
        );
        assert_eq!(out.len(), 3);
    }

    #[test]
    fn seen_items_are_excluded() {
        let out = score("{\"userId\":\"u1\"}\n{\"userId\":\"u3\"}\n", &[]);
        assert!(out[0].contains(r#""recommendedItems":["i4"]"#), "{}", out[0]);
        assert!(out[1].contains(r#""recommendedItems":["i3"]"#), "{}", out[1]);
    }

    #[test]
    fn malformed_lines_get_an_error_line() {
        let out = score(
            "not json\n{\"user\":\"u1\"}\n{\"userId\":7}\n[1]\n{\"userId\":\"zz\"}",
            &[],
        );
        assert_eq!(out.len(), 5);
        assert!(
            out[0].starts_with(r#"{"input":"not json","output":null,"error":"invalid JSON: "#),
            "{}",
            out[0]
        );
        assert_eq!(
            out[1],
            r#"{"input":{"user":"u1"},"output":null,"error":"missing userId"}"#
        );
        assert_eq!(
            out[2],
            r#"{"input":{"userId":7},"output":null,"error":"userId must be a non-empty string"}"#
        );
        assert!(
            out[3].contains(r#""error":"expected a JSON object"#),
            "{}",
            out[3]
        );
        assert!(out[4].contains(r#""error":null"#));
    }

    #[test]
    fn directory_input_env_paths_and_model_tarball() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        // Processing jobs receive the training job's model.tar.gz as-is.
        std::fs::create_dir_all(dir.path().join("processing/input/model")).unwrap();
        let status = std::process::Command::new("tar")
            .arg("-czf")
            .arg(dir.path().join("processing/input/model/model.tar.gz"))
            .arg("-C")
            .arg(dir.path().join("model"))
            .arg(".")
            .status()
            .unwrap();
        assert!(status.success());
        dir.write("processing/input/users/a.jsonl", "{\"userId\":\"u1\"}\n");
        dir.write(
            "processing/input/users/part/b.jsonl",
            "{\"userId\":\"zz\"}\n{\"userId\":\"u4\"}\n",
        );
        assert_eq!(run(&["score"], &env), 0);
        assert_eq!(dir.read("processing/output/a.jsonl.out").lines().count(), 1);
        assert_eq!(dir.read("processing/output/part/b.jsonl.out").lines().count(), 2);
        // The temporary extraction of model.tar.gz is cleaned up.
        assert!(!std::env::temp_dir()
            .join(format!("recsys-model-{}", std::process::id()))
            .exists());
    }

    #[test]
    fn each_part_of_prepare_s_users_folder_gets_its_own_out_file_in_its_group_folder() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        let parts = [
            ("g0000/part-00000.jsonl", ["u1", "u2"]),
            ("g0000/part-00001.jsonl", ["u3", "zz"]),
            ("g0001/part-00002.jsonl", ["u4", "u5"]),
        ];
        for (part, users) in &parts {
            let lines: String = users
                .iter()
                .map(|u| format!("{{\"userId\":\"{u}\"}}\n"))
                .collect();
            dir.write(&format!("processing/input/users/{part}"), &lines);
        }
        let model = dir.path().join("model");
        assert_eq!(run(&["score", "--model-dir", model.to_str().unwrap()], &env), 0);
        for (part, users) in &parts {
            let out = dir.read(&format!("processing/output/{part}.out"));
            let scored: Vec<String> = out
                .lines()
                .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["input"]["userId"].to_string())
                .collect();
            let expected: Vec<String> = users.iter().map(|u| format!("\"{u}\"")).collect();
            assert_eq!(scored, expected, "{part}");
        }
    }

    #[test]
    fn missing_model_writes_exit_message() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        dir.write("processing/input/users/a.jsonl", "{\"userId\":\"u1\"}\n");
        assert_eq!(run(&["score"], &env), 1);
        assert!(dir.read("output/message").starts_with("no model at "));
        assert_eq!(run(&["score", "--num-results", "0"], &env), 2);
    }
}
