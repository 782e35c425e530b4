//! Each score file's delivery, kept beside the job's outputs: where its worker stands while it
//! writes (byte offset, counts), and once the file is written to its end its metrics. Workers
//! run at once, one per file, so each keeps its own object
//! (`jobs/<job>/delivery/<file key under the scores prefix>.json`) and the job record is left
//! to the steps that run once; the publish step merges them all ([`merge_delivered`]).

use recoflow_core::job::JobId;
use recoflow_core::quality::MetricsPartial;
use serde::{Deserialize, Serialize};

use crate::error::DeliverError;
use crate::ports::DeliverPorts;
use crate::score_files::score_files;
use crate::stored::{read_json, write_json};

/// One score file's delivery.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct FileProgress {
    /// Byte offset of the next line to write.
    pub offset: u64,
    /// Users whose list is written.
    pub users: u64,
    /// Lines that carried an error or did not parse.
    pub skipped: u64,
    /// The file's metrics, once it is written to its end: the file is done.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsPartial>,
}

impl FileProgress {
    pub fn done(&self) -> bool {
        self.metrics.is_some()
    }
}

/// A score file of a job, and where its progress is kept.
#[derive(Debug, Clone)]
pub(crate) struct ScoreFile {
    pub key: String,
    progress_key: String,
}

impl ScoreFile {
    /// `key` must lie under the job's scores `prefix`: a worker is only ever given those.
    pub fn of(job_id: &JobId, prefix: &str, key: &str) -> Result<Self, DeliverError> {
        let relative = key
            .strip_prefix(prefix)
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| {
                DeliverError::ScoresInvalid(format!(
                    "{key} is not a score file of job {job_id} (they are under {prefix})"
                ))
            })?;
        Ok(Self {
            key: key.to_owned(),
            progress_key: format!("jobs/{job_id}/delivery/{relative}.json"),
        })
    }

    /// The file's progress; a file not begun has none yet.
    pub async fn progress<P: DeliverPorts>(&self, ports: &P) -> Result<Option<FileProgress>, DeliverError> {
        read_json(ports, &self.progress_key, &self.what()).await
    }

    pub async fn save<P: DeliverPorts>(
        &self,
        ports: &P,
        progress: &FileProgress,
    ) -> Result<(), DeliverError> {
        write_json(ports, &self.progress_key, &self.what(), progress).await
    }

    fn what(&self) -> String {
        format!("the delivery progress of {}", self.key)
    }
}

/// Every score file's delivery, merged.
#[derive(Debug, Default)]
pub(crate) struct Merged {
    pub files: u64,
    pub users: u64,
    pub skipped: u64,
    pub metrics: MetricsPartial,
}

/// Merges the progress of every score file under `prefix`, one file at a time; a file whose
/// worker did not finish it fails the delivery, naming the file (nothing is published from
/// part of the scores).
pub(crate) async fn merge_delivered<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    prefix: &str,
) -> Result<Merged, DeliverError> {
    let files = score_files(ports, prefix).await?;
    let mut merged = Merged::default();
    let mut unfinished = Vec::new();
    for key in &files {
        match ScoreFile::of(job_id, prefix, key)?.progress(ports).await? {
            Some(FileProgress {
                users,
                skipped,
                metrics: Some(metrics),
                ..
            }) => {
                merged.files += 1;
                merged.users += users;
                merged.skipped += skipped;
                merged.metrics.merge(&metrics);
            }
            Some(progress) => unfinished.push(format!("{key} (stopped at byte {})", progress.offset)),
            None => unfinished.push(format!("{key} (not begun)")),
        }
    }
    if !unfinished.is_empty() {
        return Err(DeliverError::Incomplete {
            unfinished: unfinished.len(),
            of: files.len(),
            what: "score files",
            first: unfinished.into_iter().take(3).collect::<Vec<_>>().join(", "),
        });
    }
    Ok(merged)
}
