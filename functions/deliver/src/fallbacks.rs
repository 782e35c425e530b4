//! The fallbacks of a users' lists version, from the job's data: the global and per-segment
//! popular lists (for users the scores do not list), and each user's segment (to find their
//! list). Segments are made of the form's fallback dimensions (`fallback`; by default GENDER,
//! age band, REGION) and need its `min_users`.
//!
//! The users are taken in shares (`recoflow_core::popularity::Share`: by the hash of their id),
//! as many as the users file needs (`FallbackShareUsers` users each), one worker each, at once:
//! a share's worker counts its users and their interactions into counts kept beside the job's
//! outputs (memory: its users, not all of them; an interactions file too long for one
//! invocation's budget is counted on from the offset the partial counts reached), then writes
//! its users' segments in stretches as far as an invocation's budget goes, saving where it
//! stands in the users file. The publish
//! step merges the shares' counts once and writes the popular lists
//! ([`write_merged_fallbacks`]), with what the version's metrics need: the catalogue's size and
//! any banned item the popular lists still hold (the check that removal works).

use std::collections::HashSet;
use std::time::Instant;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::{Delivery, SegmentDimensions};
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::popularity::{
    count_catalogue, each_user, Popularity, PopularityCounts, PopularityError, Share,
};
use recoflow_core::ports::RecommendationStore;
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tracing::info;

use crate::cursor::{check_delivering, save};
use crate::data_files::{DataFile, RowsFrom};
use crate::error::DeliverError;
use crate::lists::{write_popular, ListChunk, ListSender, PopularWritten, VersionLists};
use crate::ports::DeliverPorts;
use crate::scores::note_progress;
use crate::stored::{read_json, write_json};

/// A share's progress is saved at least every this many stretches of segments.
const SAVE_EVERY: u32 = 25;

/// How many shares a users file of `users` rows is counted in: enough that none holds more than
/// `share_users`; at most `max`.
pub(crate) fn shares_for(users: u64, share_users: u64, max: u32) -> u32 {
    let shares = users.div_ceil(share_users.max(1)).max(1);
    u32::try_from(shares).unwrap_or(u32::MAX).min(max.max(1))
}

/// Where a share's worker stands.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct ShareProgress {
    /// Its counts are stored, whole.
    pub counted: bool,
    /// Byte offset in the users file of the row after the last segment written.
    pub offset: u64,
    /// Users whose segment is written.
    pub users: u64,
    /// Every segment of the share is written.
    pub done: bool,
}

/// A share's counts stored part-way through the interactions file, with the byte offset of
/// the first row they have not counted: one object, so that counts are never paired with
/// another reading's offset (a worker stopped between two writes).
#[derive(Serialize, Deserialize)]
struct PartialCounts {
    counted_to: u64,
    counts: PopularityCounts,
}

/// One share of a job's fallbacks, and where its progress and counts are kept.
pub(crate) struct FallbackShare {
    share: Share,
    progress_key: String,
    counts_key: String,
    partial_key: String,
}

impl FallbackShare {
    pub fn of(job_id: &JobId, index: u32, of: u32) -> Result<Self, DeliverError> {
        if index >= of {
            return Err(DeliverError::ScoresInvalid(format!(
                "fallback share {index} of job {job_id} does not exist: its fallbacks are counted in {of}"
            )));
        }
        Ok(Self {
            share: Share { index, of },
            progress_key: format!("jobs/{job_id}/delivery/fallbacks/{index}-of-{of}.json"),
            counts_key: format!("jobs/{job_id}/delivery/fallbacks/{index}-of-{of}.counts.json"),
            partial_key: format!("jobs/{job_id}/delivery/fallbacks/{index}-of-{of}.partial.json"),
        })
    }

    async fn progress<P: DeliverPorts>(&self, ports: &P) -> Result<Option<ShareProgress>, DeliverError> {
        read_json(ports, &self.progress_key, "a fallback share's progress").await
    }

    async fn save<P: DeliverPorts>(&self, ports: &P, progress: &ShareProgress) -> Result<(), DeliverError> {
        write_json(ports, &self.progress_key, "a fallback share's progress", progress).await
    }

    async fn counts<P: DeliverPorts>(&self, ports: &P) -> Result<Option<PopularityCounts>, DeliverError> {
        read_json(ports, &self.counts_key, "a fallback share's counts").await
    }
}

/// One invocation of a share's worker: its counts if they are not stored yet, then its users'
/// segments from where it stood, until they are written or the time budget, counted from
/// `started`, is spent.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn deliver_share<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &Delivery,
    share: &FallbackShare,
    banned: &HashSet<String>,
    started: Instant,
) -> Result<ShareProgress, DeliverError> {
    let mut progress = share.progress(ports).await?.unwrap_or_default();
    if progress.done {
        return Ok(progress);
    }
    if !progress.counted {
        let (counts, stopped_at) = count_share(ports, form, share, banned, started).await?;
        let (index, of, interactions) = (share.share.index, share.share.of, counts.interactions);
        if let Some(counted_to) = stopped_at {
            // Out of time: the next invocation counts on from `counted_to`.
            let partial = PartialCounts { counted_to, counts };
            write_json(
                ports,
                &share.partial_key,
                "a fallback share's partial counts",
                &partial,
            )
            .await?;
            check_delivering(ports, job_id).await?;
            info!(
                share = index,
                of, interactions, counted_to, "fallback share counted part-way"
            );
            return Ok(progress);
        }
        write_json(ports, &share.counts_key, "a fallback share's counts", &counts).await?;
        progress.counted = true;
        check_delivering(ports, job_id).await?;
        share.save(ports, &progress).await?;
        info!(share = index, of, interactions, "fallback share counted");
    }
    let writer = SegmentWriter {
        ports,
        job_id,
        share,
        version: VersionLists::of(form, delivery),
        dimensions: SegmentDimensions::of(form),
        started,
    };
    match DataFile::Users.open_at(ports, form, progress.offset).await? {
        Some(users) => writer.write(form, users, &mut progress).await?,
        None => {
            progress.done = true;
            share.save(ports, &progress).await?;
        }
    }
    if progress.done {
        note_progress(ports, job_id, "fallback_shares_done", progress.users).await?;
    }
    Ok(progress)
}

/// Counts the share's users and their interactions (a synchronous CSV reading, on a blocking
/// thread), carrying on from the counts stored part-way if there are, until the interactions
/// end or the time budget counted from `started` is spent: the counts, and the offset reached
/// if they are partial. Banned items are never counted: they would take counters from the
/// items the lists can show.
async fn count_share<P: DeliverPorts>(
    ports: &P,
    form: &JobForm,
    share: &FallbackShare,
    banned: &HashSet<String>,
    started: Instant,
) -> Result<(PopularityCounts, Option<u64>), DeliverError> {
    let partial: Option<PartialCounts> =
        read_json(ports, &share.partial_key, "a fallback share's partial counts").await?;
    let (counted_to, saved) = match partial {
        Some(partial) => (partial.counted_to, Some(partial.counts)),
        None => (0, None),
    };
    let users = DataFile::Users.open(ports, form).await?;
    let interactions = DataFile::Interactions
        .open_at(ports, form, counted_to)
        .await?
        .ok_or_else(|| DataFile::Interactions.invalid(form, "is not named by the form".into()))?;
    let mut popularity = Popularity::new(SegmentDimensions::of(form)).share(share.share);
    popularity.exclude(banned.clone());
    // The blocking thread cannot hold the ports' clock: the time left is measured from here.
    let left = ports
        .settings()
        .budget
        .saturating_sub(ports.clock().now().duration_since(started));
    let deadline = Instant::now() + left;
    let counting = tokio::task::spawn_blocking(move || {
        if let Some(users) = users {
            popularity
                .read_users(users, |_, _| Ok(()))
                .map_err(|e| (DataFile::Users, e))?;
        }
        if let Some(saved) = saved {
            popularity.resume(saved);
        }
        let RowsFrom {
            reader,
            offset,
            header_bytes,
        } = interactions;
        let stopped = popularity
            .read_interactions_while(reader, || Instant::now() < deadline)
            .map_err(|e| (DataFile::Interactions, e))?;
        let stopped_at = stopped.map(|position| offset + position.saturating_sub(header_bytes));
        Ok::<_, (DataFile, PopularityError)>((popularity.counts(), stopped_at))
    });
    counting
        .await
        .map_err(|e| DeliverError::ScoresInvalid(format!("counting popular items stopped: {e}")))?
        .map_err(|(file, err)| file.read_error(form, err))
}

struct SegmentWriter<'a, P> {
    ports: &'a P,
    job_id: &'a JobId,
    share: &'a FallbackShare,
    version: VersionLists,
    dimensions: SegmentDimensions,
    started: Instant,
}

impl<P: DeliverPorts> SegmentWriter<'_, P> {
    /// Writes the share's users' segments as the users file is read (on a blocking thread),
    /// until the file ends or the budget is spent; the progress saved as it moves.
    async fn write(
        &self,
        form: &JobForm,
        users: RowsFrom,
        progress: &mut ShareProgress,
    ) -> Result<(), DeliverError> {
        let (chunks_out, mut chunks_in) = mpsc::channel::<ListChunk>(4);
        let (version, dimensions, share) = (self.version.clone(), self.dimensions.clone(), self.share.share);
        let reading = tokio::task::spawn_blocking(move || {
            let mut sender = ListSender::new(chunks_out);
            let RowsFrom {
                reader,
                offset,
                header_bytes,
            } = users;
            each_user(reader, &dimensions, share, |user| {
                // The reader counts the header in front of the rows; the file has it only at 0.
                sender.mark(offset + user.end.saturating_sub(header_bytes));
                match user.attributes.is_empty() {
                    true => Ok(()),
                    false => sender.send(version.user_segment(user.id, user.attributes.segment_key())),
                }
            })?;
            sender.finish().map_err(PopularityError::Output)
        });
        let mut since_save = 0;
        while let Some(chunk) = chunks_in.recv().await {
            let written = chunk.lists.len() as u64;
            self.ports.lists().put_lists(chunk.lists).await?;
            progress.offset = chunk.end;
            progress.users += written;
            since_save += 1;
            let spent = self.ports.clock().now().duration_since(self.started) >= self.ports.settings().budget;
            if spent || since_save >= SAVE_EVERY {
                check_delivering(self.ports, self.job_id).await?;
                self.share.save(self.ports, progress).await?;
                since_save = 0;
            }
            // Out of time, unless the reading has ended: the share would be done.
            if spent && chunks_in.recv().await.is_some() {
                // The reader stops at its next send; the stretch it sent is left for later.
                drop(chunks_in);
                let _ = reading.await;
                return Ok(());
            }
            if spent {
                break;
            }
        }
        reading
            .await
            .map_err(|e| DeliverError::ScoresInvalid(format!("reading the users file stopped: {e}")))?
            .map_err(|e| DataFile::Users.read_error(form, e))?;
        progress.done = true;
        check_delivering(self.ports, self.job_id).await?;
        self.share.save(self.ports, progress).await
    }
}

/// Once every share's worker is done: their counts merged (one share at a time), the popular
/// lists written, and on the delivery the segments, the catalogue's size and the banned items
/// the lists hold. A share not done fails the delivery, naming it.
pub(crate) async fn write_merged_fallbacks<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &mut Delivery,
    banned: &HashSet<String>,
) -> Result<(), DeliverError> {
    let of = delivery.fallback_shares.max(1);
    let mut merged: Option<PopularityCounts> = None;
    let mut unfinished = Vec::new();
    for index in 0..of {
        let share = FallbackShare::of(job_id, index, of)?;
        let done = share.progress(ports).await?.is_some_and(|p| p.done);
        match share.counts(ports).await?.filter(|_| done) {
            Some(counts) => match merged.as_mut() {
                Some(merged) => merged.merge(&counts),
                None => merged = Some(counts),
            },
            None => unfinished.push(format!("fallback share {index} of {of}")),
        }
    }
    let Some(merged) = merged.filter(|_| unfinished.is_empty()) else {
        return Err(DeliverError::Incomplete {
            unfinished: unfinished.len(),
            of: of as usize,
            what: "fallback shares",
            first: unfinished.into_iter().take(3).collect::<Vec<_>>().join(", "),
        });
    };
    let catalogue_items = match DataFile::Items.open(ports, form).await? {
        Some(items) => tokio::task::spawn_blocking(move || count_catalogue(items))
            .await
            .map_err(|e| DeliverError::ScoresInvalid(format!("counting the catalogue stopped: {e}")))?
            .map_err(|e| DataFile::Items.read_error(form, e))?,
        None => merged.distinct_items(),
    };
    let version = VersionLists::of(form, delivery);
    let lists = merged
        .lists(banned)
        .into_iter()
        .map(|popular| version.popular(popular))
        .collect();
    let written: PopularWritten = write_popular(ports, lists, banned).await?;
    info!(
        segments = written.segments,
        interactions = merged.interactions,
        catalogue_items,
        banned_found = written.banned_found,
        shares = of,
        "fallback lists written"
    );
    delivery.segments = written.segments;
    delivery.catalogue_items = catalogue_items;
    delivery.fallback_banned = written.banned_found;
    delivery.fallbacks_written = true;
    save(ports, job_id, delivery).await
}
