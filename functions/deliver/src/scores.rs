//! The users' lists, streamed from the score files in stretches: each stretch is written while
//! the next is read, and the cursor (file, byte offset, counts) is saved on the job record as
//! it moves, until the files are done or the invocation's time budget is spent. At the end of
//! a file the next one is found by listing after it (`score_files.rs`).

use std::collections::HashSet;
use std::time::Instant;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{
    parse_score_line, without_banned, Delivery, ScoreLine, StoredList, MAX_LIST_ITEMS,
};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::ports::{ObjectStore, ObjectStream, RecommendationStore};
use tokio::io::{AsyncBufRead, BufReader};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::lines::{read_line, LineRead};
use crate::lists::{VersionLists, CHUNK_LISTS};
use crate::ports::DeliverPorts;
use crate::score_files::next_score_file;

/// The job record's cursor is saved at least every this many stretches.
const SAVE_EVERY: u32 = 25;
/// A score line longer than this is not one (Personalize caps numResults at 500).
const MAX_LINE_BYTES: usize = 1024 * 1024;
/// Read buffer per score file.
const READ_BUFFER_BYTES: usize = 256 * 1024;
/// A line buffer's first size: a few lists of the longest kind (it grows to the line limit).
const LINE_BUFFER_BYTES: usize = 64 * 1024;

/// Lines read for one stretch of writes.
#[derive(Default)]
struct Stretch {
    lists: Vec<StoredList>,
    bytes: u64,
    users: u64,
    skipped: u64,
    end_of_file: bool,
}

/// Whether the invocation has writing time left.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Budget {
    Left,
    Spent,
}

/// Writes the score files from the saved cursor until they are done or the time budget,
/// counted from `started` (the invocation's start), is spent.
pub(crate) async fn write_scores<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
    started: Instant,
) -> Result<(), DeliverError> {
    let mut writer = ScoreWriter {
        ports,
        job_id,
        version: VersionLists::of(form, delivery),
        banned,
        started,
        since_save: 0,
    };
    while !delivery.scores_done() {
        if writer.write_file(delivery).await? == Budget::Spent {
            break;
        }
    }
    Ok(())
}

struct ScoreWriter<'a, P> {
    ports: &'a P,
    job_id: &'a JobId,
    version: VersionLists,
    banned: &'a HashSet<String>,
    started: Instant,
    /// Stretches written since the cursor was last saved.
    since_save: u32,
}

impl<P: DeliverPorts> ScoreWriter<'_, P> {
    /// Writes the cursor's file from its offset to its end, or until the budget is spent.
    async fn write_file(&mut self, delivery: &mut Delivery) -> Result<Budget, DeliverError> {
        let Some(key) = delivery.key.clone() else {
            return Ok(Budget::Left);
        };
        let mut reader = self.open(&key, delivery.offset).await?;
        let mut line = Vec::with_capacity(LINE_BUFFER_BYTES);
        let mut stretch = read_stretch(&mut reader, &mut line, &self.version, self.banned).await?;
        loop {
            let end_of_file = stretch.end_of_file;
            let lists = std::mem::take(&mut stretch.lists);
            // Write this stretch while the next is read.
            let (written, next) = if end_of_file {
                (self.ports.lists().put_lists(lists).await, Ok(Stretch::default()))
            } else {
                tokio::join!(
                    self.ports.lists().put_lists(lists),
                    read_stretch(&mut reader, &mut line, &self.version, self.banned)
                )
            };
            written?;
            count_written(delivery, &stretch);
            if end_of_file {
                let next_file = next_score_file(self.ports, &delivery.prefix, Some(&key)).await?;
                move_to(delivery, next_file);
            }
            if self.checkpoint(delivery, end_of_file).await? == Budget::Spent {
                return Ok(Budget::Spent);
            }
            if end_of_file {
                return Ok(Budget::Left);
            }
            stretch = next?;
        }
    }

    async fn open(&self, key: &str, offset: u64) -> Result<BufReader<ObjectStream>, DeliverError> {
        let bucket = &self.ports.settings().results_bucket;
        let stream = self
            .ports
            .objects()
            .open(bucket, key, offset)
            .await?
            .ok_or_else(|| {
                DeliverError::ScoresInvalid(format!("s3://{bucket}/{key} disappeared during delivery"))
            })?;
        Ok(BufReader::with_capacity(READ_BUFFER_BYTES, stream))
    }

    /// After a written stretch: saves the cursor at the end of a file, when the budget is
    /// spent, and at least every [`SAVE_EVERY`] stretches.
    async fn checkpoint(&mut self, delivery: &Delivery, end_of_file: bool) -> Result<Budget, DeliverError> {
        self.since_save += 1;
        let elapsed = self.ports.clock().now().duration_since(self.started);
        let budget = if elapsed >= self.ports.settings().budget {
            Budget::Spent
        } else {
            Budget::Left
        };
        if end_of_file || budget == Budget::Spent || self.since_save >= SAVE_EVERY {
            save(self.ports, self.job_id, delivery).await?;
            self.since_save = 0;
        }
        Ok(budget)
    }
}

/// Moves the cursor past a written stretch.
fn count_written(delivery: &mut Delivery, stretch: &Stretch) {
    delivery.offset += stretch.bytes;
    delivery.users += stretch.users;
    delivery.skipped += stretch.skipped;
}

/// Moves the cursor to the start of the next file, or past the last one.
fn move_to(delivery: &mut Delivery, next_file: Option<String>) {
    delivery.key = next_file;
    delivery.offset = 0;
    delivery.files_read += 1;
}

/// Reads up to [`CHUNK_LISTS`] users' lists, or to the end of the file, one line at a time in
/// `line`.
async fn read_stretch<S: AsyncBufRead + Unpin>(
    reader: &mut S,
    line: &mut Vec<u8>,
    version: &VersionLists,
    banned: &HashSet<String>,
) -> Result<Stretch, ServiceError> {
    let mut stretch = Stretch::default();
    while stretch.lists.len() < CHUNK_LISTS {
        let read = read_line(reader, line, MAX_LINE_BYTES)
            .await
            .map_err(|e| ServiceError::Failed {
                service: "S3",
                operation: "GetObject body",
                message: e.to_string(),
            })?;
        match read {
            LineRead::End => {
                stretch.end_of_file = true;
                break;
            }
            LineRead::TooLong(bytes) => {
                stretch.bytes += bytes;
                stretch.skipped += 1;
            }
            LineRead::Line(bytes) => {
                stretch.bytes += bytes;
                add_line(&mut stretch, line, version, banned);
            }
        }
    }
    Ok(stretch)
}

/// One score line: a user's list (banned items out, at most [`MAX_LIST_ITEMS`]), a skipped
/// line, or nothing for a blank one.
fn add_line(stretch: &mut Stretch, line: &[u8], version: &VersionLists, banned: &HashSet<String>) {
    if line.iter().all(u8::is_ascii_whitespace) {
        return;
    }
    match parse_score_line(line) {
        ScoreLine::Scored {
            user_id,
            mut items,
            mut scores,
        } => {
            without_banned(&mut items, &mut scores, banned);
            items.truncate(MAX_LIST_ITEMS);
            scores.truncate(MAX_LIST_ITEMS);
            stretch.lists.push(version.user(&user_id, items, scores));
            stretch.users += 1;
        }
        ScoreLine::Skipped(_) => stretch.skipped += 1,
    }
}
