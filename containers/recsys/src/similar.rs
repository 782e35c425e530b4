//! `recsys similar`: the items most similar to each given item, as Amazon Personalize's
//! `aws-similar-items` batch inference answers (`{"itemId": …}` lines in, `recommendedItems` and
//! `scores` out), from the model's item-to-item neighbours: the cosine similarity of the sets of
//! users who interacted with each item (co-interactions).
//!
//! Input and output are streamed line by line, so memory depends on the model only.

use crate::batch::{
    for_each_line, id_line, input_files, output_file, ExtractedModel, OutputFile, OutputLine,
};
use crate::error::{Error, Result};
use crate::model::Model;
use crate::score::Recommendations;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone)]
pub struct SimilarOptions {
    /// A directory with `model.json` (or holding / being a SageMaker `model.tar.gz`).
    pub model: PathBuf,
    /// A JSON-lines file of `{"itemId": …}`, or a directory whose files are all read.
    pub input: PathBuf,
    pub output: PathBuf,
    pub num_results: usize,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SimilarSummary {
    pub files: u64,
    pub lines: u64,
    pub errors: u64,
    /// Items the model never saw: answered with an empty list (the orchestrator serves them
    /// their category's popular items instead).
    pub unknown_items: u64,
}

pub fn similar(opts: &SimilarOptions) -> Result<SimilarSummary> {
    if opts.num_results == 0 {
        return Err(Error::Invalid("--num-results must be at least 1".into()));
    }
    let model = ExtractedModel::load(&opts.model)?;
    let neighbours = Neighbours::of(&model);
    let inputs = input_files(&opts.input)?;
    std::fs::create_dir_all(&opts.output).map_err(Error::io("cannot create output dir", &opts.output))?;
    let mut summary = SimilarSummary::default();
    let mut out = Vec::new();
    for (input, relative) in inputs {
        let mut writer = OutputFile::create(&output_file(&opts.output, &relative)?)?;
        for_each_line(&input, |line| {
            out.clear();
            neighbours.answer(line, opts.num_results, &mut out, &mut summary);
            writer.write(&out)
        })?;
        writer.finish()?;
        summary.files += 1;
    }
    Ok(summary)
}

/// The model's neighbour lists, found by item id.
pub struct Neighbours<'m> {
    model: &'m Model,
    index: HashMap<&'m str, u32>,
}

impl<'m> Neighbours<'m> {
    pub fn of(model: &'m Model) -> Self {
        let index = model
            .item_ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.as_str(), i as u32))
            .collect();
        Neighbours { model, index }
    }

    /// Up to `n` items most similar to `item_id`, best first (never the item itself); `None`
    /// for an item the model never saw.
    pub fn of_item(&self, item_id: &str, n: usize) -> Option<&'m [(u32, f64)]> {
        let item = *self.index.get(item_id)?;
        let list = &self.model.neighbours[item as usize];
        Some(&list[..list.len().min(n)])
    }

    /// Appends the output line for one input line to `out`, counting it in `summary`.
    fn answer(&self, line: &str, n: usize, out: &mut Vec<u8>, summary: &mut SimilarSummary) {
        summary.lines += 1;
        let (input, item_id) = id_line(line, "itemId");
        let item_id = match item_id {
            Ok(item_id) => item_id,
            Err(error) => {
                summary.errors += 1;
                return OutputLine::<Recommendations> {
                    input: &input,
                    output: None,
                    error: Some(error),
                }
                .write_to(out);
            }
        };
        let similar = self.of_item(&item_id, n).unwrap_or_else(|| {
            summary.unknown_items += 1;
            &[]
        });
        let names = &self.model.item_ids;
        OutputLine {
            input: &input,
            output: Some(Recommendations {
                recommended_items: similar.iter().map(|&(i, _)| names[i as usize].as_str()).collect(),
                scores: similar.iter().map(|&(_, s)| s).collect(),
            }),
            error: None,
        }
        .write_to(out);
    }
}

#[cfg(test)]
mod tests {
    use crate::testutil::{clustered_job, run, tiny_job, TempDir, TINY_HP};

    fn similar(input: &str, extra: &[&str]) -> (i32, Vec<String>) {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        assert_eq!(run(&["train"], &env), 0);
        dir.write("processing/input/items/items.jsonl", input);
        let mut args = vec!["similar", "--model-dir"];
        let model = dir.path().join("model");
        args.push(model.to_str().unwrap());
        args.extend_from_slice(extra);
        let code = run(&args, &env);
        let lines = std::fs::read_to_string(dir.path().join("processing/output/items.jsonl.out"))
            .unwrap_or_default()
            .lines()
            .map(str::to_string)
            .collect();
        (code, lines)
    }

    #[test]
    fn neighbours_by_co_interaction_in_personalize_s_format() {
        // i1: users {u1,u2,u3}; i2 the same; i3 {u1,u4}; i4 {u3,u4}. Cosine(i1,i2) = 3/3 = 1;
        // cos(i1,i3) = 1/sqrt(6) = 0.408248 = cos(i1,i4): kept 2 neighbours, ties by id.
        let (code, out) = similar(
            "{\"itemId\":\"i1\"}\n\n{\"itemId\":\"i3\"}\n",
            &["--num-results", "2"],
        );
        assert_eq!(code, 0);
        assert_eq!(
            out,
            [
                r#"{"input":{"itemId":"i1"},"output":{"recommendedItems":["i2","i3"],"scores":[1.0,0.408248]},"error":null}"#,
                r#"{"input":{"itemId":"i3"},"output":{"recommendedItems":["i4","i1"],"scores":[0.5,0.408248]},"error":null}"#,
            ]
        );
    }

    #[test]
    fn never_the_item_itself_fewer_when_asked_and_unknown_items_get_an_empty_list() {
        let (_, out) = similar(
            "{\"itemId\":\"i2\"}\n{\"itemId\":\"i9\"}\n",
            &["--num-results", "1"],
        );
        assert!(out[0].contains(r#""recommendedItems":["i1"]"#), "{}", out[0]);
        assert_eq!(
            out[1],
            r#"{"input":{"itemId":"i9"},"output":{"recommendedItems":[],"scores":[]},"error":null}"#
        );
    }

    #[test]
    fn malformed_lines_get_an_error_line_and_the_rest_go_on() {
        let (code, out) = similar(
            "nope\n{\"userId\":\"u1\"}\n{\"itemId\":3}\n{\"itemId\":\"i1\"}\n",
            &[],
        );
        assert_eq!(code, 0);
        assert_eq!(out.len(), 4);
        assert!(out[0].starts_with(r#"{"input":"nope","output":null,"error":"invalid JSON"#));
        assert_eq!(
            out[1],
            r#"{"input":{"userId":"u1"},"output":null,"error":"missing itemId"}"#
        );
        assert!(out[2].ends_with(r#""error":"itemId must be a non-empty string"}"#));
        assert!(out[3].contains(r#""error":null"#));
    }

    #[test]
    fn a_missing_model_fails_the_job_with_its_reason() {
        let dir = TempDir::new();
        let env = tiny_job(&dir, TINY_HP);
        dir.write("processing/input/items/a.jsonl", "{\"itemId\":\"i1\"}\n");
        assert_eq!(run(&["similar"], &env), 1);
        assert!(dir.read("output/message").starts_with("no model at "));
        assert_eq!(run(&["similar", "--num-results", "0"], &env), 2);
    }

    #[test]
    fn items_similar_to_an_item_of_a_taste_cluster_come_from_that_cluster() {
        let dir = TempDir::new();
        let (env, _) = clustered_job(&dir);
        assert_eq!(run(&["train"], &env), 0);
        let items: String = (0..4).map(|k| format!("{{\"itemId\":\"c{k}-i07\"}}\n")).collect();
        dir.write("processing/input/items/items.jsonl", &items);
        let model = dir.path().join("model");
        assert_eq!(
            run(
                &[
                    "similar",
                    "--model-dir",
                    model.to_str().unwrap(),
                    "--num-results",
                    "20"
                ],
                &env
            ),
            0
        );
        for (k, line) in dir.read("processing/output/items.jsonl.out").lines().enumerate() {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let items = line["output"]["recommendedItems"].as_array().unwrap();
            assert_eq!(items.len(), 20);
            let inside = items
                .iter()
                .filter(|i| i.as_str().unwrap().starts_with(&format!("c{k}-")))
                .count();
            assert!(inside >= 16, "{inside} of 20 from cluster {k}");
        }
    }
}
