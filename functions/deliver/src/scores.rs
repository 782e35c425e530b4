//! One score file's lists, streamed in stretches: each stretch is written while the next is
//! read, and the file's progress (byte offset, counts) is saved as it moves, until the file is
//! done or the invocation's time budget is spent. The file's worker is invoked again until it
//! is done; one resumed in the middle first reads the file again up to its offset, for its
//! metrics only (a file's metrics are kept once it is whole, `measure.rs`).

use std::collections::HashSet;
use std::time::Instant;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{
    parse_score_line, without_banned, Delivery, ScoreLine, StoredList, MAX_LIST_ITEMS,
};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::ports::{JobPatch, JobStore, ObjectStore, ObjectStream, RecommendationStore};
use recoflow_core::quality::MetricsPartial;
use tokio::io::{AsyncBufRead, AsyncReadExt, BufReader};

use crate::cursor::check_delivering;
use crate::error::DeliverError;
use crate::file_progress::{FileProgress, ScoreFile};
use crate::lines::{read_line, LineRead};
use crate::lists::{VersionLists, CHUNK_LISTS};
use crate::measure::Measuring;
use crate::ports::DeliverPorts;

/// The file's progress is saved at least every this many stretches.
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

/// Writes `file` from its saved progress until it is done or the time budget, counted from
/// `started` (the invocation's start), is spent; its progress as it stands then.
pub(crate) async fn write_score_file<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &Delivery,
    banned: &HashSet<String>,
    file: &ScoreFile,
    started: Instant,
) -> Result<FileProgress, DeliverError> {
    let mut progress = file.progress(ports).await?.unwrap_or_default();
    if progress.done() {
        return Ok(progress);
    }
    let mut writer = ScoreWriter {
        ports,
        job_id,
        file,
        reading: Reading::of(form, delivery, banned),
        started,
        since_save: 0,
    };
    writer.write_file(&mut progress).await?;
    if progress.done() {
        note_progress(ports, job_id, "score_files_done", progress.users).await?;
    }
    Ok(progress)
}

/// Tells the job record a worker finished its part (`what`, one more) and its users: the
/// progress `GET /jobs/{id}` shows while the workers run. Added once, by the invocation that
/// finished the part (a crash just before it leaves the count short; the version's own counts
/// are merged from the parts when it is published).
pub(crate) async fn note_progress<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    what: &str,
    users: u64,
) -> Result<(), DeliverError> {
    let counts = [(what.to_owned(), 1), (format!("{what}_users"), users)].into();
    ports
        .jobs()
        .patch(job_id, JobPatch::AddCounts(counts), None)
        .await?;
    Ok(())
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
    file: &'a ScoreFile,
    reading: Reading<'a>,
    started: Instant,
    /// Stretches written since the cursor was last saved.
    since_save: u32,
}

impl<P: DeliverPorts> ScoreWriter<'_, P> {
    /// Writes the file from its offset to its end, or until the budget is spent; its metrics
    /// are kept at its end.
    async fn write_file(&mut self, progress: &mut FileProgress) -> Result<(), DeliverError> {
        let key = &self.file.key;
        // What an earlier invocation wrote of this file is measured again: a file's metrics
        // are kept only once it is whole.
        let mut partial = measure_file(self.ports, &self.reading, key, Some(progress.offset)).await?;
        let stream = open(self.ports, key, progress.offset).await?;
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
            count_written(progress, &stretch);
            if end_of_file {
                progress.metrics = Some(std::mem::take(&mut partial));
            }
            if self.checkpoint(progress, end_of_file).await? == Budget::Spent || end_of_file {
                return Ok(());
            }
            stretch = next?;
        }
    }

    /// After a written stretch: saves the progress at the end of the file, when the budget is
    /// spent, and at least every [`SAVE_EVERY`] stretches, each time checking the job is still
    /// `DELIVERING` (a job cancelled meanwhile stops its workers).
    async fn checkpoint(
        &mut self,
        progress: &FileProgress,
        end_of_file: bool,
    ) -> Result<Budget, DeliverError> {
        self.since_save += 1;
        let elapsed = self.ports.clock().now().duration_since(self.started);
        let budget = if elapsed >= self.ports.settings().budget {
            Budget::Spent
        } else {
            Budget::Left
        };
        if end_of_file || budget == Budget::Spent || self.since_save >= SAVE_EVERY {
            check_delivering(self.ports, self.job_id).await?;
            self.file.save(self.ports, progress).await?;
            self.since_save = 0;
        }
        Ok(budget)
    }
}

/// Moves the progress past a written stretch.
fn count_written(progress: &mut FileProgress, stretch: &Stretch) {
    progress.offset += stretch.bytes;
    progress.users += stretch.users;
    progress.skipped += stretch.skipped;
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
