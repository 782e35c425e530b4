//! The lists a delivery writes into the version: their keys, their expiry, and how many go in
//! one write.

use std::collections::HashSet;

use recoflow_core::delivery::{keys, Delivery, StoredList, ITEM_INPUT, USER_INPUT};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::{JobForm, Output};
use recoflow_core::outputs::similar;
use recoflow_core::popularity::PopularList;
use recoflow_core::ports::RecommendationStore;
use tokio::sync::mpsc;

use crate::ports::DeliverPorts;

/// Lists written per stretch: several full batches of 25, in flight together.
pub(crate) const CHUNK_LISTS: usize = 200;

/// Why a reading thread stops sending lists: the writer gave up (its own error is the one
/// reported).
const WRITER_STOPPED: &str = "the writer stopped";

/// The version being written: what its lists' keys and expiry are made of.
#[derive(Debug, Clone)]
pub(crate) struct VersionLists {
    pub result_set: String,
    pub version: String,
    /// Unix seconds the version's items expire.
    pub expires_at: i64,
    /// What the score lines are: users' items, or items' similar items.
    pub output: Output,
}

/// The key of a scored line's list in `version`: a user's list, or an item's similar items.
pub(crate) fn scored_key(output: Output, result_set: &str, version: &str, id: &str) -> String {
    match output {
        Output::SimilarItems => similar::keys::similar(result_set, version, id),
        Output::UserItems | Output::Audience => keys::user(result_set, version, id),
    }
}

impl VersionLists {
    pub fn of(form: &JobForm, delivery: &Delivery) -> Self {
        Self {
            result_set: form.result_set.clone(),
            version: delivery.version.clone(),
            expires_at: delivery.expires_at,
            output: form.output,
        }
    }

    /// The input field a score line names its subject by.
    pub fn input_field(&self) -> &'static str {
        match self.output {
            Output::SimilarItems => ITEM_INPUT,
            Output::UserItems | Output::Audience => USER_INPUT,
        }
    }

    /// A scored line's list: a user's items, or an item's similar items.
    pub fn scored(&self, id: &str, items: Vec<String>, scores: Vec<f64>) -> StoredList {
        let pk = scored_key(self.output, &self.result_set, &self.version, id);
        self.list(pk, items, scores)
    }

    /// An item's category, for items without similar items of their own.
    pub fn item_category(&self, item_id: &str, category: &str) -> StoredList {
        StoredList {
            segment: Some(category.to_owned()),
            ..self.list(
                similar::keys::item_category(&self.result_set, &self.version, item_id),
                Vec::new(),
                Vec::new(),
            )
        }
    }

    /// A category's popular items (`segment`: the category), or the global ones.
    pub fn category(&self, popular: PopularList) -> StoredList {
        let pk = match &popular.segment {
            Some(category) => similar::keys::category(&self.result_set, &self.version, category),
            None => keys::global(&self.result_set, &self.version),
        };
        self.list(pk, popular.items, popular.scores)
    }

    /// A user's segment, for users the scores do not list.
    pub fn user_segment(&self, user_id: &str, segment: Option<String>) -> StoredList {
        StoredList {
            segment,
            ..self.list(
                keys::attributes(&self.result_set, &self.version, user_id),
                Vec::new(),
                Vec::new(),
            )
        }
    }

    /// A segment's popular items, or the global ones.
    pub fn popular(&self, popular: PopularList) -> StoredList {
        let pk = match &popular.segment {
            Some(segment) => keys::segment(&self.result_set, &self.version, segment),
            None => keys::global(&self.result_set, &self.version),
        };
        self.list(pk, popular.items, popular.scores)
    }

    fn list(&self, pk: String, items: Vec<String>, scores: Vec<f64>) -> StoredList {
        StoredList {
            pk,
            items,
            scores,
            segment: None,
            expires_at: self.expires_at,
        }
    }
}

/// Lists made from a data file, and where the reading stood after the last of them (bytes
/// from the file's start, when the reader tells: [`ListSender::mark`]).
pub(crate) struct ListChunk {
    pub lists: Vec<StoredList>,
    pub end: u64,
}

/// Lists made on a blocking thread while it reads a data file, sent in chunks of
/// [`CHUNK_LISTS`] to be written as they come ([`write_sent`]).
pub(crate) struct ListSender {
    chunk: Vec<StoredList>,
    end: u64,
    out: mpsc::Sender<ListChunk>,
}

impl ListSender {
    pub fn new(out: mpsc::Sender<ListChunk>) -> Self {
        Self {
            chunk: Vec::with_capacity(CHUNK_LISTS),
            end: 0,
            out,
        }
    }

    /// Where the reading stands after the lists sent so far.
    pub fn mark(&mut self, end: u64) {
        self.end = end;
    }

    pub fn send(&mut self, list: StoredList) -> Result<(), String> {
        self.chunk.push(list);
        if self.chunk.len() >= CHUNK_LISTS {
            let lists = std::mem::replace(&mut self.chunk, Vec::with_capacity(CHUNK_LISTS));
            self.out
                .blocking_send(ListChunk { lists, end: self.end })
                .map_err(|_| WRITER_STOPPED.to_owned())?;
        }
        Ok(())
    }

    pub fn finish(self) -> Result<(), String> {
        if self.chunk.is_empty() {
            return Ok(());
        }
        self.out
            .blocking_send(ListChunk {
                lists: self.chunk,
                end: self.end,
            })
            .map_err(|_| WRITER_STOPPED.to_owned())
    }
}

/// Writes lists as a [`ListSender`] sends them. The first failed write stops the writing;
/// dropping the receiver then stops the sender's thread.
pub(crate) async fn write_sent<P: DeliverPorts>(
    ports: &P,
    mut lists_in: mpsc::Receiver<ListChunk>,
) -> Result<(), ServiceError> {
    while let Some(chunk) = lists_in.recv().await {
        ports.lists().put_lists(chunk.lists).await?;
    }
    Ok(())
}

/// Popular lists written: how many besides the global one, and the banned items they hold.
pub(crate) struct PopularWritten {
    pub segments: u64,
    /// Banned items the lists hold (0 unless their removal broke).
    pub banned_found: u64,
}

/// Writes popular lists (the global one among them), counting the banned items they hold.
pub(crate) async fn write_popular<P: DeliverPorts>(
    ports: &P,
    lists: Vec<StoredList>,
    banned: &HashSet<String>,
) -> Result<PopularWritten, ServiceError> {
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
