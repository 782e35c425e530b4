//! The fallbacks of a version, from the job's data: the global and per-segment popular lists
//! (for users the scores do not list), and each user's segment (to find their list). Segments
//! are made of the form's fallback dimensions (`fallback`; by default GENDER, age band, REGION)
//! and need its `min_users`. Counted
//! with them, for the version's metrics: the catalogue's size and any banned item the popular
//! lists still hold (the check that removal works).

use std::collections::HashSet;

use recoflow_core::delivery::{Delivery, SegmentDimensions, StoredList};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::popularity::{count_catalogue, Popularity, PopularityError};
use recoflow_core::ports::{ObjectStore, ObjectStream, RecommendationStore};
use recoflow_core::s3uri::S3Uri;
use tokio::sync::mpsc;
use tokio_util::io::SyncIoBridge;
use tracing::info;

use crate::cursor::save;
use crate::error::DeliverError;
use crate::lists::{VersionLists, CHUNK_LISTS};
use crate::ports::DeliverPorts;

/// A data file read synchronously (the CSV reader's way) on a blocking thread.
type DataReader = SyncIoBridge<ObjectStream>;

/// Why the counting thread stops sending users' segments: the writer gave up (its own error
/// is the one reported).
const WRITER_STOPPED: &str = "the writer stopped";

/// The data files the fallbacks are counted from.
#[derive(Debug, Clone, Copy)]
enum DataFile {
    Users,
    Interactions,
    Items,
}

impl DataFile {
    /// The form field that names the file.
    fn field(self) -> &'static str {
        match self {
            DataFile::Users => "dataset.users",
            DataFile::Interactions => "dataset.interactions",
            DataFile::Items => "dataset.items",
        }
    }

    fn uri(self, form: &JobForm) -> String {
        match self {
            DataFile::Users => form.dataset.users.clone().unwrap_or_default(),
            DataFile::Interactions => form.dataset.interactions.clone(),
            DataFile::Items => form.dataset.items.clone().unwrap_or_default(),
        }
    }

    fn invalid(self, form: &JobForm, reason: String) -> DeliverError {
        DeliverError::DatasetInvalid {
            field: self.field().to_owned(),
            uri: self.uri(form),
            reason,
        }
    }
}

/// The data files the fallbacks are counted from, open.
struct DataReaders {
    users: Option<DataReader>,
    interactions: DataReader,
    /// The catalogue, when the form names one.
    items: Option<DataReader>,
}

/// What the counting found.
struct Counted {
    popularity: Popularity,
    catalogue_items: u64,
}

/// Writes the fallbacks and records on the cursor that they are written, with the number of
/// segments, the catalogue's size and the banned items they hold.
pub(crate) async fn write_fallbacks<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
) -> Result<(), DeliverError> {
    let version = VersionLists::of(form, delivery);
    let readers = DataReaders {
        users: open_named(ports, form, DataFile::Users, &form.dataset.users).await?,
        interactions: open(ports, form, DataFile::Interactions).await?,
        items: open_named(ports, form, DataFile::Items, &form.dataset.items).await?,
    };
    let counted = count_writing_segments(ports, form, &version, banned, readers).await?;
    let written = write_popular_lists(ports, &version, &counted.popularity, banned).await?;
    info!(
        segments = written.segments,
        interactions = counted.popularity.interactions,
        catalogue_items = counted.catalogue_items,
        banned_found = written.banned_found,
        "fallback lists written"
    );
    delivery.segments = written.segments;
    delivery.catalogue_items = counted.catalogue_items;
    delivery.fallback_banned = written.banned_found;
    delivery.fallbacks_written = true;
    save(ports, job_id, delivery).await
}

/// Opens a data file the form may name (`uri`).
async fn open_named<P: DeliverPorts>(
    ports: &P,
    form: &JobForm,
    file: DataFile,
    uri: &Option<String>,
) -> Result<Option<DataReader>, DeliverError> {
    match uri {
        Some(_) => Ok(Some(open(ports, form, file).await?)),
        None => Ok(None),
    }
}

async fn open<P: DeliverPorts>(
    ports: &P,
    form: &JobForm,
    file: DataFile,
) -> Result<DataReader, DeliverError> {
    let location = S3Uri::parse(&file.uri(form)).map_err(|reason| file.invalid(form, reason))?;
    ports
        .objects()
        .open(&location.bucket, &location.key, 0)
        .await?
        .map(SyncIoBridge::new)
        .ok_or_else(|| file.invalid(form, "no longer exists".into()))
}

/// Counts popular items (and users' segments) from the data files, writing the users' segments
/// while the counting reads. Banned items are never counted: they would take counters from
/// the items the lists can show.
async fn count_writing_segments<P: DeliverPorts>(
    ports: &P,
    form: &JobForm,
    version: &VersionLists,
    banned: &HashSet<String>,
    readers: DataReaders,
) -> Result<Counted, DeliverError> {
    // Counting is synchronous CSV reading on a blocking thread; users' segments stream out to
    // be written while it reads.
    let (segments_out, segments_in) = mpsc::channel::<Vec<StoredList>>(4);
    let counted_version = version.clone();
    let mut popularity = Popularity::new(SegmentDimensions::of(form));
    popularity.exclude(banned.clone());
    let counting =
        tokio::task::spawn_blocking(move || count(popularity, readers, &counted_version, segments_out));
    let written = write_segments(ports, segments_in).await;
    let counted = counting
        .await
        .map_err(|e| DeliverError::ScoresInvalid(format!("counting popular items stopped: {e}")))?;
    written?;
    counted.map_err(|(file, err)| file.invalid(form, err.to_string()))
}

/// The counting thread's work: users (their segments sent out in chunks), then interactions,
/// then the items file if there is one.
fn count(
    mut popularity: Popularity,
    readers: DataReaders,
    version: &VersionLists,
    segments_out: mpsc::Sender<Vec<StoredList>>,
) -> Result<Counted, (DataFile, PopularityError)> {
    match readers.users {
        Some(users) => {
            read_segments(&mut popularity, users, version, segments_out).map_err(|e| (DataFile::Users, e))?
        }
        // Nothing to send: the writer finishes at once.
        None => drop(segments_out),
    }
    popularity
        .read_interactions(readers.interactions)
        .map_err(|e| (DataFile::Interactions, e))?;
    let catalogue_items = match readers.items {
        Some(items) => count_catalogue(items).map_err(|e| (DataFile::Items, e))?,
        None => popularity.distinct_items(),
    };
    Ok(Counted {
        popularity,
        catalogue_items,
    })
}

fn read_segments(
    popularity: &mut Popularity,
    users: DataReader,
    version: &VersionLists,
    segments_out: mpsc::Sender<Vec<StoredList>>,
) -> Result<(), PopularityError> {
    let mut chunk = Vec::with_capacity(CHUNK_LISTS);
    popularity.read_users(users, |user_id, attributes| {
        chunk.push(version.user_segment(user_id, attributes.segment_key()));
        if chunk.len() >= CHUNK_LISTS {
            let full = std::mem::replace(&mut chunk, Vec::with_capacity(CHUNK_LISTS));
            segments_out
                .blocking_send(full)
                .map_err(|_| WRITER_STOPPED.to_owned())?;
        }
        Ok(())
    })?;
    if !chunk.is_empty() {
        segments_out
            .blocking_send(chunk)
            .map_err(|_| PopularityError::Output(WRITER_STOPPED.into()))?;
    }
    Ok(())
}

/// Writes users' segments as the counting thread sends them. The first failed write stops
/// the writing; dropping the receiver then stops the counting thread's sends.
async fn write_segments<P: DeliverPorts>(
    ports: &P,
    mut segments_in: mpsc::Receiver<Vec<StoredList>>,
) -> Result<(), ServiceError> {
    while let Some(chunk) = segments_in.recv().await {
        ports.lists().put_lists(chunk).await?;
    }
    Ok(())
}

/// The popular lists written.
struct PopularWritten {
    segments: u64,
    /// Banned items the lists hold (0 unless their removal broke).
    banned_found: u64,
}

/// Writes the global list and each segment's.
async fn write_popular_lists<P: DeliverPorts>(
    ports: &P,
    version: &VersionLists,
    popularity: &Popularity,
    banned: &HashSet<String>,
) -> Result<PopularWritten, DeliverError> {
    let lists: Vec<StoredList> = popularity
        .lists(banned)
        .into_iter()
        .map(|popular| version.popular(popular))
        .collect();
    let banned_found = lists
        .iter()
        .flat_map(|list| &list.items)
        .filter(|item| banned.contains(*item))
        .count() as u64;
    for chunk in lists.chunks(CHUNK_LISTS) {
        ports.lists().put_lists(chunk.to_vec()).await?;
    }
    Ok(PopularWritten {
        // One of the lists is the global one.
        segments: (lists.len() as u64).saturating_sub(1),
        banned_found,
    })
}
