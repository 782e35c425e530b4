//! The ports of placements and events: where placements, event claims, aggregates, raw events
//! and the signing key live (DynamoDB, Firehose, Secrets Manager in `recoflow-aws`; in-memory
//! in `crate::fakes`).

use async_trait::async_trait;
use time::Date;

use super::aggregates::AggregateRow;
use crate::errors::ServiceError;
use crate::placement::recommendation_id::KeyRing;
use crate::placement::PlacementRecord;
use crate::ports::Page;

/// The placements table: each placement's latest revision and its history.
#[async_trait]
pub trait PlacementStore: Send + Sync {
    /// The placement's latest revision (a delete is one too); `None` if it never existed.
    async fn latest(&self, placement: &str) -> Result<Option<PlacementRecord>, ServiceError>;
    /// Placements not deleted, by name: at most `limit` after the placement `after`.
    async fn list(&self, limit: u32, after: Option<&str>) -> Result<Page<PlacementRecord>, ServiceError>;
    /// One transaction: `record` becomes the latest revision and joins the history, only if the
    /// latest is still revision `record.revision - 1` (0: none). `false`: another write came
    /// first and nothing changed.
    async fn write(&self, record: &PlacementRecord) -> Result<bool, ServiceError>;
    /// The placement's revisions, newest first, at most `limit`.
    async fn history(&self, placement: &str, limit: u32) -> Result<Vec<PlacementRecord>, ServiceError>;
}

/// What the events table remembers of single events: which event ids were counted, and the
/// credits of interleaved impressions.
#[async_trait]
pub trait EventLedger: Send + Sync {
    /// Claims each id no call claimed before (one conditional write each, kept until
    /// `expires_at`): `true` where this call claimed it, `false` where it was claimed already.
    /// On an error nothing stays claimed by this call.
    async fn claim(&self, event_ids: &[&str], expires_at: i64) -> Result<Vec<bool>, ServiceError>;
    /// Gives claims back: their events were not counted after all.
    async fn release(&self, event_ids: &[&str]) -> Result<(), ServiceError>;
    /// Adds to an interleaved impression's credits per team (one atomic update); the credits
    /// after it.
    async fn credit(
        &self,
        impression: &str,
        add: [i64; 2],
        expires_at: i64,
    ) -> Result<[i64; 2], ServiceError>;
}

/// The aggregates of placements' events (see `events::aggregates`).
#[async_trait]
pub trait AggregateStore: Send + Sync {
    /// Adds each row's counts to its key (one write per row, to one of the key's shards).
    async fn add(&self, rows: &[AggregateRow]) -> Result<(), ServiceError>;
    /// Every key of the placement with `from <= day <= to`, its shards summed, in key order.
    async fn read(&self, placement: &str, from: Date, to: Date) -> Result<Vec<AggregateRow>, ServiceError>;
}

/// Where accepted events go for analysts: one JSON line each (Firehose to S3).
#[async_trait]
pub trait RawEventSink: Send + Sync {
    /// Puts every record (each ends with a newline), retrying the ones refused, within a bound.
    async fn put(&self, records: Vec<Vec<u8>>) -> Result<(), ServiceError>;
}

/// The keys recommendation_ids are signed with (a Secrets Manager secret).
#[async_trait]
pub trait SigningKeys: Send + Sync {
    /// The current key and the previous one. `refresh`: an id named a key the ring lacks, so
    /// read the secret again unless it was read moments ago (a rotation elsewhere is seen at once).
    async fn ring(&self, refresh: bool) -> Result<KeyRing, ServiceError>;
}
