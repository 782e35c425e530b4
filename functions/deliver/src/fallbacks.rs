//! The fallbacks of a version, from the job's data: the global and per-segment popular lists
//! (for users the scores do not list), and each user's segment (to find their list). Segments
//! are made of the form's fallback dimensions (`fallback`; by default GENDER, age band, REGION)
//! and need its `min_users`. Counted
//! with them, for the version's metrics: the catalogue's size and any banned item the popular
//! lists still hold (the check that removal works).

use std::collections::HashSet;

use recoflow_core::delivery::{Delivery, SegmentDimensions, StoredList};
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::popularity::{count_catalogue, Popularity, PopularityError};
use tokio::sync::mpsc;
use tracing::info;

use crate::cursor::save;
use crate::data_files::{DataFile, DataReader};
use crate::error::DeliverError;
use crate::lists::{write_popular, write_sent, ListSender, PopularWritten, VersionLists};
use crate::ports::DeliverPorts;

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
        users: DataFile::Users.open(ports, form).await?,
        interactions: DataFile::Interactions.open_named(ports, form).await?,
        items: DataFile::Items.open(ports, form).await?,
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
    let written = write_sent(ports, segments_in).await;
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
    let mut sender = ListSender::new(segments_out);
    popularity.read_users(users, |user_id, attributes| {
        sender.send(version.user_segment(user_id, attributes.segment_key()))
    })?;
    sender.finish().map_err(PopularityError::Output)
}

/// Writes the global list and each segment's.
async fn write_popular_lists<P: DeliverPorts>(
    ports: &P,
    version: &VersionLists,
    popularity: &Popularity,
    banned: &HashSet<String>,
) -> Result<PopularWritten, DeliverError> {
    let lists = popularity
        .lists(banned)
        .into_iter()
        .map(|popular| version.popular(popular))
        .collect();
    Ok(write_popular(ports, lists, banned).await?)
}
