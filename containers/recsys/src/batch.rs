//! Batch-job plumbing shared by `score`, `similar` and `audience`: the model a processing job
//! is handed (a directory, or SageMaker's `model.tar.gz` as-is), the input files under a path,
//! JSON input lines read one at a time, and output lines in Amazon Personalize's batch shape
//! (`{"input": …, "output": …, "error": …}`).

use crate::error::{Error, Result};
use crate::model;
use serde::Serialize;
use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::{Path, PathBuf};

/// Read and write buffers per file.
const BUFFER_BYTES: usize = 64 * 1024;

/// One output line, field order as Personalize writes it.
#[derive(Serialize)]
pub struct OutputLine<'a, T: Serialize> {
    pub input: &'a serde_json::Value,
    pub output: Option<T>,
    pub error: Option<String>,
}

impl<T: Serialize> OutputLine<'_, T> {
    /// The line and its newline, appended to `out`.
    pub fn write_to(&self, out: &mut Vec<u8>) {
        serde_json::to_writer(&mut *out, self).expect("an output line serializes");
        out.push(b'\n');
    }
}

/// An input line parsed for the one id it must carry (`{"userId": "u1"}`, `{"itemId": "i1"}`):
/// the line as JSON (the text itself when it is not JSON, as Personalize echoes it) and the
/// id, or why the line cannot be used.
pub fn id_line(line: &str, field: &str) -> (serde_json::Value, std::result::Result<String, String>) {
    match serde_json::from_str::<serde_json::Value>(line) {
        Err(e) => (
            serde_json::Value::String(line.to_string()),
            Err(format!("invalid JSON: {e}")),
        ),
        Ok(value) => {
            let id = match value.get(field) {
                Some(serde_json::Value::String(id)) if !id.trim().is_empty() => Ok(id.trim().to_string()),
                Some(_) => Err(format!("{field} must be a non-empty string")),
                None if value.is_object() => Err(format!("missing {field}")),
                None => Err(format!(
                    "expected a JSON object like {{\"{field}\":\"{}1\"}}",
                    &field[..1]
                )),
            };
            (value, id)
        }
    }
}

/// Input files with their path relative to the input (just the name for a single file).
/// Directories are walked recursively because an S3 prefix downloaded by a processing job
/// keeps its sub-folders; outputs mirror that layout.
pub fn input_files(input: &Path) -> Result<Vec<(PathBuf, PathBuf)>> {
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

/// Where the output of an input file goes: `<output>/<relative>.out`, its folder created.
pub fn output_file(output: &Path, relative: &Path) -> Result<PathBuf> {
    let mut file = output.join(relative);
    file.as_mut_os_string().push(".out");
    if let Some(parent) = file.parent() {
        std::fs::create_dir_all(parent).map_err(Error::io("cannot create output dir", parent))?;
    }
    Ok(file)
}

/// Calls `f` with every non-blank line of `input`, trimmed, streaming. Invalid UTF-8 reaches
/// `f` replaced (so it is reported on its line rather than failing the whole batch).
pub fn for_each_line(input: &Path, mut f: impl FnMut(&str) -> Result<()>) -> Result<()> {
    let file = File::open(input).map_err(Error::io("cannot open input", input))?;
    let mut reader = BufReader::with_capacity(BUFFER_BYTES, file);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        if reader
            .read_until(b'\n', &mut buf)
            .map_err(Error::io("cannot read input", input))?
            == 0
        {
            return Ok(());
        }
        let line = String::from_utf8_lossy(&buf);
        let line = line.trim();
        if !line.is_empty() {
            f(line)?;
        }
    }
}

/// A buffered output file; bytes are written as they come and flushed at the end.
pub struct OutputFile {
    path: PathBuf,
    writer: BufWriter<File>,
}

impl OutputFile {
    pub fn create(path: &Path) -> Result<Self> {
        let file = File::create(path).map_err(Error::io("cannot create output", path))?;
        Ok(OutputFile {
            path: path.to_path_buf(),
            writer: BufWriter::with_capacity(BUFFER_BYTES, file),
        })
    }

    pub fn write(&mut self, bytes: &[u8]) -> Result<()> {
        self.writer
            .write_all(bytes)
            .map_err(Error::io("cannot write output", &self.path))
    }

    pub fn finish(mut self) -> Result<()> {
        self.writer
            .flush()
            .map_err(Error::io("cannot write output", &self.path))
    }
}

/// The model directory to read, extracting a SageMaker `model.tar.gz` (what a training job
/// uploads and a processing job downloads as-is) to a temp dir removed afterwards.
pub struct ExtractedModel {
    dir: PathBuf,
    temp: bool,
}

impl ExtractedModel {
    pub fn locate(path: &Path) -> Result<Self> {
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

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Loads the model it holds.
    pub fn load(path: &Path) -> Result<model::Model> {
        let extracted = Self::locate(path)?;
        model::Model::load(extracted.dir())
    }
}

impl Drop for ExtractedModel {
    fn drop(&mut self) {
        if self.temp {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
