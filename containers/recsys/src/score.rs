//! `recsys score`: Amazon Personalize-style batch inference as a SageMaker Processing job.
//!
//! Input and output are streamed line by line, so memory depends on the model only.

use crate::error::{Error, Result};
use crate::model::{self, round6, Model};
use serde::Serialize;
use std::collections::HashMap;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
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

/// One output line, field order as Personalize writes it.
#[derive(Serialize)]
struct OutputLine<'a> {
    input: &'a serde_json::Value,
    output: Option<Recommendations<'a>>,
    error: Option<String>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Recommendations<'a> {
    recommended_items: Vec<&'a str>,
    scores: Vec<f64>,
}

pub fn score(opts: &ScoreOptions) -> Result<ScoreSummary> {
    if opts.num_results == 0 {
        return Err(Error::Invalid("--num-results must be at least 1".into()));
    }
    let extracted = ExtractedModel::locate(&opts.model)?;
    let model = Model::load(extracted.dir())?;
    let inputs = input_files(&opts.input)?;
    std::fs::create_dir_all(&opts.output).map_err(Error::io("cannot create output dir", &opts.output))?;
    let mut summary = ScoreSummary::default();
    let mut scorer = Scorer::new(&model);
    for (input, relative) in inputs {
        let mut output = opts.output.join(&relative);
        output.as_mut_os_string().push(".out");
        if let Some(parent) = output.parent() {
            std::fs::create_dir_all(parent).map_err(Error::io("cannot create output dir", parent))?;
        }
        score_file(&mut scorer, &input, &output, opts.num_results, &mut summary)?;
        summary.files += 1;
    }
    Ok(summary)
}

/// Input files with their path relative to the input (just the name for a single file).
/// Directories are walked recursively because an S3 prefix downloaded by a processing job
/// keeps its sub-folders; outputs mirror that layout.
fn input_files(input: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
    if input.is_file() {
        let name = input
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("input"));
        return Ok(vec![(input.to_path_buf(), name)]);
    }
    if !input.is_dir() {
        return Err(Error::Invalid(format!(
            "input {} does not exist",
            input.display()
        )));
    }
    let mut files = Vec::new();
    let mut dirs = vec![input.to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).map_err(Error::io("cannot list input dir", &dir))? {
            let entry = entry.map_err(Error::io("cannot list input dir", &dir))?;
            let path = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            if path.is_dir() {
                dirs.push(path);
            } else if path.is_file() && !name.ends_with(".out") {
                // `.out` files are our own results when input and output share a directory.
                let relative = path.strip_prefix(input).expect("walked from input").to_path_buf();
                files.push((path, relative));
            }
        }
    }
    files.sort();
    if files.is_empty() {
        return Err(Error::Invalid(format!(
            "input dir {} has no files",
            input.display()
        )));
    }
    Ok(files)
}

fn score_file(
    scorer: &mut Scorer,
    input: &Path,
    output: &Path,
    num_results: usize,
    summary: &mut ScoreSummary,
) -> Result<()> {
    let reader = File::open(input).map_err(Error::io("cannot open input", input))?;
    let mut reader = BufReader::with_capacity(64 * 1024, reader);
    let writer = File::create(output).map_err(Error::io("cannot create output", output))?;
    let mut writer = BufWriter::with_capacity(64 * 1024, writer);
    let mut buf = Vec::new();
    let mut out = Vec::new();
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(Error::io("cannot read input", input))?
            == 0
        {
            break;
        }
        // Invalid UTF-8 is reported on that line rather than failing the whole batch.
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        out.clear();
        if !scorer.score_line(line, num_results, &mut out) {
            summary.errors += 1;
        }
        summary.lines += 1;
        writer
            .write_all(&out)
            .map_err(Error::io("cannot write output", output))?;
    }
    writer.flush().map_err(Error::io("cannot write output", output))
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
        let (input, result) = match serde_json::from_str::<serde_json::Value>(line) {
            Err(e) => (
                serde_json::Value::String(line.to_string()),
                Err(format!("invalid JSON: {e}")),
            ),
            Ok(value) => {
                let result = match value.get("userId") {
                    Some(serde_json::Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_string()),
                    Some(_) => Err("userId must be a non-empty string".to_string()),
                    None if value.is_object() => Err("missing userId".to_string()),
                    None => Err("expected a JSON object like {\"userId\":\"u1\"}".to_string()),
                };
                (value, result)
            }
        };
        let ok = result.is_ok();
        let line = match result {
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
                .to_json()
            }
            Err(error) => OutputLine {
                input: &input,
                output: None,
                error: Some(error),
            }
            .to_json(),
        };
        out.extend_from_slice(line.as_bytes());
        out.push(b'\n');
        ok
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

impl OutputLine<'_> {
    fn to_json(&self) -> String {
        serde_json::to_string(self).expect("output line serializes")
    }
}

/// The model directory to read, extracting a SageMaker `model.tar.gz` (what a training job
/// uploads and a processing job downloads as-is) to a temp dir removed afterwards.
struct ExtractedModel {
    dir: PathBuf,
    temp: bool,
}

impl ExtractedModel {
    fn locate(path: &Path) -> Result<Self> {
        if path.join(model::META_FILE).is_file() {
            return Ok(ExtractedModel {
                dir: path.to_path_buf(),
                temp: false,
            });
        }
        let archive = if path.is_file() {
            path.to_path_buf()
        } else {
            path.join("model.tar.gz")
        };
        if !archive.is_file() {
            return Err(Error::Invalid(format!(
                "no model at {}: expected {} or model.tar.gz",
                path.display(),
                model::META_FILE
            )));
        }
        let dir = std::env::temp_dir().join(format!("recsys-model-{}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(Error::io("cannot create", &dir))?;
        let extracted = ExtractedModel { dir, temp: true };
        let status = std::process::Command::new("tar")
            .arg("-xzf")
            .arg(&archive)
            .arg("-C")
            .arg(&extracted.dir)
            .status()
            .map_err(Error::io("cannot run tar to extract", &archive))?;
        if !status.success() {
            return Err(Error::Invalid(format!(
                "cannot extract {} ({status})",
                archive.display()
            )));
        }
        Ok(extracted)
    }

    fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for ExtractedModel {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
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
    fn missing_model_writes_exit_message() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        dir.write("processing/input/users/a.jsonl", "{\"userId\":\"u1\"}\n");
        assert_eq!(run(&["score"], &env), 1);
        assert!(dir.read("output/message").starts_with("no model at "));
        assert_eq!(run(&["score", "--num-results", "0"], &env), 2);
    }
}
