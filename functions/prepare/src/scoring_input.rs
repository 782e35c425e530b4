//! The users to score: the users file (or, without one, the interactions' distinct users)
//! through the form's segment, written as batch-inference input while it is read. The reading
//! also checks that the columns ranges and bands read hold numbers.

use recoflow_core::form::JobForm;
use recoflow_core::ports::ObjectStore;
use recoflow_core::s3uri::S3Uri;
use recoflow_core::segment::{self, SelectError, Selection, UserCriteria};
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::datasets::data_uri;
use crate::error::PrepareError;

/// The scoring input leaves in chunks of about this size (multipart parts gather them).
const CHUNK_BYTES: usize = 1024 * 1024;

/// Streams the users file (or, without one, the interactions) through the segment filter into
/// `output`, reading and uploading at the same time. A segment of nobody fails the job here.
pub async fn write_scoring_input<O: ObjectStore>(
    objects: &O,
    form: &JobForm,
    output: &S3Uri,
) -> Result<Selection, PrepareError> {
    let (field, uri) = match &form.dataset.users {
        Some(users) => ("dataset.users", users.as_str()),
        None => ("dataset.interactions", form.dataset.interactions.as_str()),
    };
    let source = data_uri(field, uri)?;
    let stream = objects
        .open(&source.bucket, &source.key, 0)
        .await?
        .ok_or_else(|| PrepareError::missing(field, uri))?;
    let (chunks, received) = mpsc::channel::<Vec<u8>>(2);
    let reader = SyncIoBridge::new(stream);
    let criteria = UserCriteria::of(form);
    let by_users_file = form.dataset.users.is_some();
    // The CSV reader is synchronous: it runs on a blocking thread, fed by the async stream.
    let select = tokio::task::spawn_blocking(move || {
        let emit = |chunk: Vec<u8>| {
            chunks
                .blocking_send(chunk)
                .map_err(|_| "the upload stopped".to_owned())
        };
        if by_users_file {
            segment::select_users(reader, &criteria, CHUNK_BYTES, emit)
        } else {
            segment::distinct_interaction_users(reader, CHUNK_BYTES, emit)
        }
    });
    let upload = objects.put_chunks(&output.bucket, &output.key, "application/x-ndjson", received);
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
    uploaded?;
    if selection.selected == 0 {
        return Err(PrepareError::SegmentEmpty {
            segment: segment::describe(form.segment.as_ref()),
            rows: selection.rows,
            uri: uri.to_owned(),
        });
    }
    Ok(selection)
}
