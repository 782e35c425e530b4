//! The fallbacks of a similar-items version (`recoflow_core::outputs::similar`): each item's
//! category (for items the scores give no list), the popular items of each category and
//! overall, counted from the items file and the interactions. Counted with them, for the
//! version's metrics: the catalogue's size and any banned item the lists still hold.

use std::collections::HashSet;

use recoflow_core::delivery::Delivery;
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::outputs::similar::{CategoryPopularity, CountError};
use tokio::sync::mpsc;
use tracing::info;

use crate::cursor::save;
use crate::data_files::{DataFile, DataReader};
use crate::error::DeliverError;
use crate::lists::{write_popular, write_sent, ListChunk, ListSender, VersionLists};
use crate::ports::DeliverPorts;

/// Writes the fallbacks and records on the cursor that they are written, with the number of
/// category lists, the catalogue's size and the banned items they hold.
pub(crate) async fn write_similar_fallbacks<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
) -> Result<(), DeliverError> {
    let version = VersionLists::of(form, delivery);
    let items = DataFile::Items.open(ports, form).await?;
    let interactions = DataFile::Interactions.open_named(ports, form).await?;
    // Counting is synchronous CSV reading on a blocking thread; items' categories stream out
    // to be written while it reads.
    let (categories_out, categories_in) = mpsc::channel::<ListChunk>(4);
    let mut popularity = CategoryPopularity::default();
    popularity.exclude(banned.clone());
    let counted_version = version.clone();
    let counting = tokio::task::spawn_blocking(move || {
        count(popularity, items, interactions, &counted_version, categories_out)
    });
    let written = write_sent(ports, categories_in).await;
    let counted = counting
        .await
        .map_err(|e| DeliverError::ScoresInvalid(format!("counting popular items stopped: {e}")))?;
    written?;
    let popularity = counted.map_err(|(file, err)| file.invalid(form, err.to_string()))?;
    let lists = popularity
        .lists(banned)
        .into_iter()
        .map(|popular| version.category(popular))
        .collect();
    let written = write_popular(ports, lists, banned).await?;
    info!(
        categories = written.segments,
        catalogue_items = popularity.catalogue_items(),
        banned_found = written.banned_found,
        "category and global lists written"
    );
    delivery.segments = written.segments;
    delivery.catalogue_items = popularity.catalogue_items();
    delivery.fallback_banned = written.banned_found;
    delivery.fallbacks_written = true;
    save(ports, job_id, delivery).await
}

/// The counting thread's work: the items file (each item's category sent out to be written),
/// then the interactions.
fn count(
    mut popularity: CategoryPopularity,
    items: Option<DataReader>,
    interactions: DataReader,
    version: &VersionLists,
    categories_out: mpsc::Sender<ListChunk>,
) -> Result<CategoryPopularity, (DataFile, CountError)> {
    let mut sender = ListSender::new(categories_out);
    if let Some(items) = items {
        popularity
            .read_items(items, |item, category| {
                sender.send(version.item_category(item, category))
            })
            .map_err(|e| (DataFile::Items, e))?;
    }
    sender
        .finish()
        .map_err(|e| (DataFile::Items, CountError::Output(e)))?;
    popularity
        .read_interactions(interactions)
        .map_err(|e| (DataFile::Interactions, e))?;
    Ok(popularity)
}
