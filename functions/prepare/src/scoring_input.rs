//! The users to score: the users file (or, without one, the interactions' distinct users)
//! through the form's segment, written as batch-inference input while it is read, in parts of
//! at most `ScoringPartUsers` users (`recoflow_core::scoring_parts`). The reading also checks
//! that the columns ranges and bands read hold numbers.

use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::ports::ObjectStore;
use recoflow_core::scoring_parts::{PartLayout, MAX_SCORING_PARTS};
use recoflow_core::segment::{self, SelectError, Selection, UserCriteria};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::datasets::data_uri;
use crate::error::PrepareError;

/// The scoring input leaves in chunks of about this size (multipart parts gather them).
const CHUNK_BYTES: usize = 1024 * 1024;

/// What was written: the users selected and the parts holding them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ScoringInput {
    pub selection: Selection,
    pub parts: u64,
}

/// Streams the users file (or, without one, the interactions) through the segment filter into
/// the job's parts in `bucket`, reading and uploading at the same time. A segment of nobody, or
/// of more users than [`MAX_SCORING_PARTS`] parts hold, fails the job here.
pub async fn write_scoring_input<O: ObjectStore>(
    objects: &O,
    form: &JobForm,
    bucket: &str,
    job_id: &JobId,
    layout: PartLayout,
) -> Result<ScoringInput, PrepareError> {
    let (field, uri) = match &form.dataset.users {
        Some(users) => ("dataset.users", users.as_str()),
        None => ("dataset.interactions", form.dataset.interactions.as_str()),
    };
    let source = data_uri(field, uri)?;
    let stream = objects
        .open(&source.bucket, &source.key, 0)
        .await?
        .ok_or_else(|| PrepareError::missing(field, uri))?;
    let (parts, uploads) = mpsc::channel(1);
    let reader = SyncIoBridge::new(stream);
    let criteria = UserCriteria::of(form);
    let by_users_file = form.dataset.users.is_some();
    // The CSV reader is synchronous: it runs on a blocking thread, fed by the async stream.
    let select = tokio::task::spawn_blocking(move || {
        let mut splitter = PartSplitter::new(layout.part_users, parts);
        let emit = |chunk: Vec<u8>| splitter.write(chunk);
        if by_users_file {
            segment::select_users(reader, &criteria, CHUNK_BYTES, emit)
        } else {
            segment::distinct_interaction_users(reader, CHUNK_BYTES, emit)
        }
    });
    let upload = upload_parts(objects, bucket, job_id, layout, uploads);
    let (selected, uploaded) = tokio::join!(select, upload);
    let invalid = |reason: String| PrepareError::invalid(field, uri, reason);
    let selection = match selected.map_err(|e| invalid(format!("could not be read: {e}")))? {
        Ok(selection) => selection,
        // The upload's own error says more than "the upload stopped".
        Err(SelectError::Output(_)) => {
            return Err(uploaded
                .err()
                .map(Into::into)
                .unwrap_or_else(|| invalid("could not be written".into())))
        }
        Err(err) => return Err(invalid(err.to_string())),
    };
    let parts = uploaded?;
    if selection.selected == 0 {
        return Err(PrepareError::SegmentEmpty {
            segment: segment::describe(form.segment.as_ref()),
            rows: selection.rows,
            uri: uri.to_owned(),
        });
    }
    let needed = layout.parts(selection.selected);
    if needed > MAX_SCORING_PARTS {
        return Err(PrepareError::TooManyParts {
            users: selection.selected,
            parts: needed,
            part_users: layout.part_users,
        });
    }
    Ok(ScoringInput { selection, parts })
}

/// Uploads each part whose chunks arrive on `uploads`, one after the other (each a multipart
/// upload as its chunks come); answers how many were written.
async fn upload_parts<O: ObjectStore>(
    objects: &O,
    bucket: &str,
    job_id: &JobId,
    layout: PartLayout,
    mut uploads: mpsc::Receiver<mpsc::Receiver<Vec<u8>>>,
) -> Result<u64, ServiceError> {
    let mut written = 0;
    while let Some(chunks) = uploads.recv().await {
        let key = layout.part_key(job_id, written);
        objects
            .put_chunks(bucket, &key, "application/x-ndjson", chunks)
            .await?;
        written += 1;
    }
    Ok(written)
}

/// Cuts the stream of whole JSON lines into parts of `part_users` lines, each part's chunks
/// sent to an upload of its own. Past [`MAX_SCORING_PARTS`] parts the lines are dropped: the
/// selection still counts them, for the error that names how many parts the job would need.
struct PartSplitter {
    part_users: u64,
    parts: u64,
    lines_in_part: u64,
    part: Option<mpsc::Sender<Vec<u8>>>,
    uploads: mpsc::Sender<mpsc::Receiver<Vec<u8>>>,
}

impl PartSplitter {
    fn new(part_users: u64, uploads: mpsc::Sender<mpsc::Receiver<Vec<u8>>>) -> Self {
        Self {
            part_users,
            parts: 0,
            lines_in_part: 0,
            part: None,
            uploads,
        }
    }

    /// Takes a chunk of whole lines (as `segment` emits them).
    fn write(&mut self, mut chunk: Vec<u8>) -> Result<(), String> {
        while !chunk.is_empty() {
            if self.part.is_none() || self.lines_in_part == self.part_users {
                if self.parts == MAX_SCORING_PARTS {
                    self.part = None;
                    return Ok(());
                }
                self.start_part()?;
            }
            let (lines, end) = lines_within(&chunk, self.part_users - self.lines_in_part);
            let rest = chunk.split_off(end);
            self.lines_in_part += lines;
            let part = self.part.as_ref().expect("a part was started");
            part.blocking_send(chunk).map_err(upload_stopped)?;
            chunk = rest;
        }
        Ok(())
    }

    /// Ends the current part's upload and hands the next part's to the uploader.
    fn start_part(&mut self) -> Result<(), String> {
        self.part = None;
        let (part, chunks) = mpsc::channel(2);
        self.uploads.blocking_send(chunks).map_err(upload_stopped)?;
        self.part = Some(part);
        self.parts += 1;
        self.lines_in_part = 0;
        Ok(())
    }
}

/// What the segment reader is told when the uploader has gone (its own error says why).
fn upload_stopped<E>(_: E) -> String {
    "the upload stopped".to_owned()
}

/// How many of `chunk`'s lines fit in `room`, and the byte where they end.
fn lines_within(chunk: &[u8], room: u64) -> (u64, usize) {
    let mut lines = 0;
    for (at, _) in chunk.iter().enumerate().filter(|(_, byte)| **byte == b'\n') {
        lines += 1;
        if lines == room {
            return (lines, at + 1);
        }
    }
    (lines, chunk.len())
}
