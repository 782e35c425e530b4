//! The items an audience or a similar-items job asks about, written as batch input lines at
//! `jobs/<job>/input/items.jsonl` (`recoflow_core::outputs::item_input_key`) for both backends:
//! - audience for items: one `{"itemId": …}` per item of the form;
//! - audience for an item filter: one `{"itemAttributes": …}` per combination of its values,
//!   its columns checked against the items file's header first;
//! - similar items: one `{"itemId": …}` per distinct item of the interactions (items only in
//!   the items file are served their category's popular items instead).

use std::collections::HashSet;
use std::io::Read;

use recoflow_core::form::{AudienceTarget, JobForm, Output};
use recoflow_core::job::PreparedFile;
use recoflow_core::outputs::{filter_expressions, ItemLine, MAX_FILTER_ALTERNATIVES};
use recoflow_core::ports::ObjectStore;
use recoflow_core::s3uri::S3Uri;
use recoflow_core::topk::item_hash;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;

use crate::datasets::data_uri;
use crate::error::PrepareError;

/// The item lines leave in chunks of about this size (multipart parts gather them).
const CHUNK_BYTES: usize = 1024 * 1024;
const CONTENT_TYPE: &str = "application/x-ndjson";

/// Writes the form's item lines to `output`; how many. `None` for users' lists, which need none.
pub async fn write_item_input<O: ObjectStore>(
    objects: &O,
    form: &JobForm,
    files: &[PreparedFile],
    output: &S3Uri,
) -> Result<Option<u64>, PrepareError> {
    let lines = match (form.output, &form.audience) {
        (Output::UserItems, _) => return Ok(None),
        (Output::SimilarItems, _) => return interaction_items(objects, form, output).await.map(Some),
        (Output::Audience, None) => Vec::new(),
        (Output::Audience, Some(audience)) => match audience.target() {
            AudienceTarget::Items(items) => items
                .iter()
                .map(|i| ItemLine::Item(i.trim().to_owned()))
                .collect(),
            AudienceTarget::ItemFilter(filter) => {
                check_filter_columns(form, files, filter.keys())?;
                filter_expressions(filter)
                    .map_err(|combinations| too_many_alternatives(form, combinations))?
                    .into_iter()
                    .map(ItemLine::Attributes)
                    .collect()
            }
        },
    };
    let body: Vec<u8> = lines.iter().flat_map(ItemLine::to_line).collect();
    objects
        .put(&output.bucket, &output.key, body, CONTENT_TYPE)
        .await?;
    Ok(Some(lines.len() as u64))
}

/// Every column an item filter names is in the items file's header (any case).
fn check_filter_columns<'a>(
    form: &JobForm,
    files: &[PreparedFile],
    columns: impl Iterator<Item = &'a String>,
) -> Result<(), PrepareError> {
    let uri = form.dataset.items.clone().unwrap_or_default();
    let header = files
        .iter()
        .find(|f| f.field == "dataset.items")
        .map(|f| f.columns.as_slice())
        .unwrap_or_default();
    let absent: Vec<String> = columns
        .map(|c| c.to_ascii_uppercase())
        .filter(|c| !header.contains(c))
        .collect();
    if absent.is_empty() {
        return Ok(());
    }
    Err(PrepareError::invalid(
        "dataset.items",
        &uri,
        format!(
            "has no column {}, which audience.item_filter names; its header has {}",
            absent.join(", "),
            header.join(", ")
        ),
    ))
}

fn too_many_alternatives(form: &JobForm, combinations: usize) -> PrepareError {
    PrepareError::invalid(
        "audience.item_filter",
        form.dataset.items.as_deref().unwrap_or_default(),
        format!(
            "combines into {combinations} alternatives (one value of each column); at most \
             {MAX_FILTER_ALTERNATIVES} can be asked: give fewer values"
        ),
    )
}

/// Streams the interactions and writes each distinct item once, reading and uploading at the
/// same time. Items are remembered by a 64-bit hash of their id (8 bytes an item).
async fn interaction_items<O: ObjectStore>(
    objects: &O,
    form: &JobForm,
    output: &S3Uri,
) -> Result<u64, PrepareError> {
    let (field, uri) = ("dataset.interactions", form.dataset.interactions.as_str());
    let source = data_uri(field, uri)?;
    let stream = objects
        .open(&source.bucket, &source.key, 0)
        .await?
        .ok_or_else(|| PrepareError::missing(field, uri))?;
    let (chunks, received) = mpsc::channel::<Vec<u8>>(2);
    let reader = SyncIoBridge::new(stream);
    // The CSV reader is synchronous: it runs on a blocking thread, fed by the async stream.
    let read = tokio::task::spawn_blocking(move || {
        distinct_items(reader, |chunk| {
            chunks
                .blocking_send(chunk)
                .map_err(|_| "the upload stopped".to_owned())
        })
    });
    let upload = objects.put_chunks(&output.bucket, &output.key, CONTENT_TYPE, received);
    let (read, uploaded) = tokio::join!(read, upload);
    let invalid = |reason: String| PrepareError::invalid(field, uri, reason);
    let items = match read.map_err(|e| invalid(format!("could not be read: {e}")))? {
        Ok(items) => items,
        Err(ItemsError::Output) => {
            return Err(uploaded
                .err()
                .map(Into::into)
                .unwrap_or_else(|| invalid("could not be written".into())))
        }
        Err(ItemsError::Csv(reason)) => return Err(invalid(reason)),
    };
    uploaded?;
    Ok(items)
}

#[derive(Debug)]
enum ItemsError {
    Csv(String),
    /// The upload went away (its own error says why).
    Output,
}

/// Writes `{"itemId": …}` for each distinct `ITEM_ID` of an interactions CSV, in chunks.
fn distinct_items<R: Read>(
    interactions: R,
    mut emit: impl FnMut(Vec<u8>) -> Result<(), String>,
) -> Result<u64, ItemsError> {
    let csv_error = |e: csv::Error| {
        let line = e.position().map(|p| p.line()).unwrap_or(0);
        ItemsError::Csv(format!("line {line}: {e}"))
    };
    let mut reader = csv::Reader::from_reader(interactions);
    let header = reader.headers().map_err(csv_error)?.clone();
    let item_column = header
        .iter()
        .position(|c| {
            c.trim()
                .trim_start_matches('\u{feff}')
                .eq_ignore_ascii_case("ITEM_ID")
        })
        .ok_or_else(|| ItemsError::Csv("has no ITEM_ID column".into()))?;
    let mut seen = HashSet::new();
    let mut chunk = Vec::with_capacity(CHUNK_BYTES + 512);
    let mut row = csv::StringRecord::new();
    while reader.read_record(&mut row).map_err(csv_error)? {
        let Some(item) = row.get(item_column).map(str::trim).filter(|i| !i.is_empty()) else {
            continue;
        };
        if seen.insert(item_hash(item)) {
            chunk.extend(ItemLine::Item(item.to_owned()).to_line());
            if chunk.len() >= CHUNK_BYTES {
                emit(std::mem::take(&mut chunk)).map_err(|_| ItemsError::Output)?;
            }
        }
    }
    if !chunk.is_empty() {
        emit(chunk).map_err(|_| ItemsError::Output)?;
    }
    Ok(seen.len() as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_item_of_the_interactions_once_in_order_of_first_sight() {
        let mut written = Vec::new();
        let items = distinct_items(
            "USER_ID,item_id,TIMESTAMP\nu1,i2,1\nu2, i1 ,2\nu1,i2,3\nu3,,4\nu3,\"i,3\",5\n".as_bytes(),
            |chunk| {
                written.extend(chunk);
                Ok(())
            },
        )
        .unwrap();
        assert_eq!(items, 3);
        assert_eq!(
            String::from_utf8(written).unwrap(),
            "{\"itemId\":\"i2\"}\n{\"itemId\":\"i1\"}\n{\"itemId\":\"i,3\"}\n"
        );
        assert!(matches!(
            distinct_items("USER_ID,TIMESTAMP\nu1,1\n".as_bytes(), |_| Ok(())),
            Err(ItemsError::Csv(reason)) if reason == "has no ITEM_ID column"
        ));
    }
}
