//! What the Deliver step reaches outside itself: one trait, implemented by the SDK adapters in
//! Lambda (`live.rs`), by the fakes in tests, and by a mix of both in the delivery benchmark.

use std::time::Duration;

use recoflow_core::clock::Clock;
use recoflow_core::ports::{JobStore, ObjectStore, RecommendationStore, VersionStore};

pub trait DeliverPorts: Send + Sync {
    type Jobs: JobStore;
    type Objects: ObjectStore;
    type Lists: RecommendationStore;
    type Versions: VersionStore;
    type Clock: Clock;
    /// The jobs table: the record, its status and the delivery cursor.
    fn jobs(&self) -> &Self::Jobs;
    /// The results bucket (score files) and the data files the form names.
    fn objects(&self) -> &Self::Objects;
    /// The recommendations table: the version's lists and the result set's pointer.
    fn lists(&self) -> &Self::Lists;
    /// The recommendations table again: the version's record (metrics, gate outcome) and the
    /// result set's entry.
    fn versions(&self) -> &Self::Versions;
    fn clock(&self) -> &Self::Clock;
    fn settings(&self) -> &DeliverSettings;
    /// This invocation's part is one of `parts` the delivery's workers write at once (at most
    /// `DeliveryWorkers` of them run): the write budget is shared by those that run.
    fn writing_one_of(&self, _parts: u64) {}
}

#[derive(Debug, Clone)]
pub struct DeliverSettings {
    /// Score files in, each file's metrics out (`jobs/<job>/metrics/`).
    pub results_bucket: String,
    /// How long a version's items live (the table's TTL).
    pub retention_seconds: u32,
    /// Writing time per invocation; the rest of the Lambda timeout is margin.
    pub budget: Duration,
    /// Largest share of score lines that may be errors before the delivery is refused.
    pub max_skipped_share: f64,
    /// Users per fallback share (`FallbackShareUsers`): a share's worker keeps its users in
    /// memory, 16 bytes each.
    pub fallback_share_users: u64,
}
