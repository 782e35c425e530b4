//! The users' lists, streamed from the score files in stretches: each stretch is written while
//! the next is read, and the cursor (file, byte offset, counts) is saved on the job record as
//! it moves, until the files are done or the invocation's time budget is spent. At the end of
//! a file the next one is found by listing after it (`score_files.rs`).
//!
//! Each file is measured as it is written (`measure.rs`), its metrics stored when it is done.
//! A file resumed in its middle is first read again up to the cursor, for its metrics only.

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
use recoflow_core::quality::MetricsPartial;
use tokio::io::{AsyncBufRead, AsyncReadExt, BufReader};

use crate::cursor::save;
use crate::error::DeliverError;
use crate::lines::{read_line, LineRead};
use crate::lists::{VersionLists, CHUNK_LISTS};
use crate::measure::{store_partial, Measuring};
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
    /// Whose each list is: a user, or for similar items an item.
    ids: Vec<String>,
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

/// How score lines become the version's lists and its metrics: the same for writing them and
/// for measuring them alone.
struct Reading<'a> {
    version: VersionLists,
    measuring: Measuring,
    banned: &'a HashSet<String>,
}

impl<'a> Reading<'a> {
    fn of(form: &JobForm, delivery: &Delivery, banned: &'a HashSet<String>) -> Self {
        Self {
            version: VersionLists::of(form, delivery),
            measuring: Measuring::of(form, delivery),
            banned,
        }
    }

    async fn stretch<S: AsyncBufRead + Unpin>(
        &self,
        reader: &mut S,
        line: &mut Vec<u8>,
    ) -> Result<Stretch, ServiceError> {
        read_stretch(reader, line, &self.version, self.banned).await
    }
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
        reading: Reading::of(form, delivery, banned),
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

/// A delivery begun before deliveries were measured: the files it wrote already are measured
/// (read, nothing written again), then it goes on measuring.
pub(crate) async fn measure_written_files<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
) -> Result<(), DeliverError> {
    let reading = Reading::of(form, delivery, banned);
    let mut ordinal = 0;
    let mut file = next_score_file(ports, &delivery.prefix, None).await?;
    while let Some(key) = file {
        if delivery.key.as_ref() == Some(&key) {
            break;
        }
        let partial = measure_file(ports, &reading, &key, None).await?;
        store_partial(ports, job_id, ordinal, &partial).await?;
        ordinal += 1;
        file = next_score_file(ports, &delivery.prefix, Some(&key)).await?;
    }
    delivery.files_read = ordinal;
    delivery.measured = true;
    save(ports, job_id, delivery).await
}

/// Measures a score file, its first `upto` bytes (a whole number of lines) or all of it,
/// writing nothing.
async fn measure_file<P: DeliverPorts>(
    ports: &P,
    reading: &Reading<'_>,
    key: &str,
    upto: Option<u64>,
) -> Result<MetricsPartial, DeliverError> {
    let mut partial = MetricsPartial::default();
    if upto == Some(0) {
        return Ok(partial);
    }
    let stream = open(ports, key, 0).await?;
    let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stream.take(upto.unwrap_or(u64::MAX)));
    let mut line = Vec::with_capacity(LINE_BUFFER_BYTES);
    loop {
        let stretch = reading.stretch(&mut reader, &mut line).await?;
        let comparison = reading
            .measuring
            .add(&mut partial, &stretch.ids, &stretch.lists, reading.banned);
        let previous = comparison.previous(ports).await?;
        comparison.add_overlaps(&mut partial, &previous);
        if stretch.end_of_file {
            return Ok(partial);
        }
    }
}

async fn open<P: DeliverPorts>(ports: &P, key: &str, offset: u64) -> Result<ObjectStream, DeliverError> {
    let bucket = &ports.settings().results_bucket;
    ports.objects().open(bucket, key, offset).await?.ok_or_else(|| {
        DeliverError::ScoresInvalid(format!("s3://{bucket}/{key} disappeared during delivery"))
    })
}

struct ScoreWriter<'a, P> {
    ports: &'a P,
    job_id: &'a JobId,
    reading: Reading<'a>,
    started: Instant,
    /// Stretches written since the cursor was last saved.
    since_save: u32,
}

impl<P: DeliverPorts> ScoreWriter<'_, P> {
    /// Writes the cursor's file from its offset to its end, or until the budget is spent; its
    /// metrics are stored at its end.
    async fn write_file(&mut self, delivery: &mut Delivery) -> Result<Budget, DeliverError> {
        let Some(key) = delivery.key.clone() else {
            return Ok(Budget::Left);
        };
        // What an earlier invocation wrote of this file is measured again: a file's metrics
        // are kept only once it is whole.
        let mut partial = measure_file(self.ports, &self.reading, &key, Some(delivery.offset)).await?;
        let stream = open(self.ports, &key, delivery.offset).await?;
        let mut reader = BufReader::with_capacity(READ_BUFFER_BYTES, stream);
        let mut line = Vec::with_capacity(LINE_BUFFER_BYTES);
        let mut stretch = self.reading.stretch(&mut reader, &mut line).await?;
        loop {
            let end_of_file = stretch.end_of_file;
            let lists = std::mem::take(&mut stretch.lists);
            let comparison =
                self.reading
                    .measuring
                    .add(&mut partial, &stretch.ids, &lists, self.reading.banned);
            // Write this stretch while its users' previous lists and the next stretch are read.
            let (written, previous, next) = if end_of_file {
                let (written, previous) = tokio::join!(
                    self.ports.lists().put_lists(lists),
                    comparison.previous(self.ports)
                );
                (written, previous, Ok(Stretch::default()))
            } else {
                tokio::join!(
                    self.ports.lists().put_lists(lists),
                    comparison.previous(self.ports),
                    self.reading.stretch(&mut reader, &mut line)
                )
            };
            written?;
            comparison.add_overlaps(&mut partial, &previous?);
            count_written(delivery, &stretch);
            if end_of_file {
                store_partial(self.ports, self.job_id, delivery.files_read, &partial).await?;
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
    match parse_score_line(line, version.input_field()) {
        ScoreLine::Scored {
            id,
            mut items,
            mut scores,
        } => {
            without_banned(&mut items, &mut scores, banned);
            items.truncate(MAX_LIST_ITEMS);
            scores.truncate(MAX_LIST_ITEMS);
            stretch.lists.push(version.scored(&id, items, scores));
            stretch.ids.push(id);
            stretch.users += 1;
        }
        ScoreLine::Skipped(_) => stretch.skipped += 1,
    }
}
