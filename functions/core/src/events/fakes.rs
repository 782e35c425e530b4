//! In-memory fakes of the placement and event ports, following the adapters' rules: a
//! placement write only on top of the revision it expects, one claim per event id, shards
//! summed on read.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use time::Date;

use super::aggregates::{sum_rows, AggregateKey, AggregateRow, Counts};
use super::ports::{AggregateStore, EventLedger, PlacementStore, RawEventSink, SigningKeys};
use crate::errors::ServiceError;
use crate::placement::recommendation_id::{KeyRing, SigningKey};
use crate::placement::PlacementRecord;
use crate::ports::Page;

fn injected(service: &'static str, operation: &'static str) -> ServiceError {
    ServiceError::Failed {
        service,
        operation,
        message: "injected failure".to_owned(),
    }
}

#[derive(Default)]
pub struct FakePlacements {
    /// Each placement's revisions, oldest first.
    pub revisions: Mutex<BTreeMap<String, Vec<PlacementRecord>>>,
    /// Calls of `latest` (the serving cache is judged by it).
    pub reads: Mutex<u32>,
}

#[async_trait]
impl PlacementStore for FakePlacements {
    async fn latest(&self, placement: &str) -> Result<Option<PlacementRecord>, ServiceError> {
        *self.reads.lock().unwrap() += 1;
        let revisions = self.revisions.lock().unwrap();
        Ok(revisions.get(placement).and_then(|r| r.last()).cloned())
    }

    async fn list(&self, limit: u32, after: Option<&str>) -> Result<Page<PlacementRecord>, ServiceError> {
        let revisions = self.revisions.lock().unwrap();
        let mut live = revisions
            .iter()
            .filter(|(name, _)| after.is_none_or(|after| name.as_str() > after))
            .filter_map(|(_, r)| r.last())
            .filter(|record| !record.is_deleted());
        let page: Vec<PlacementRecord> = live.by_ref().take(limit as usize).cloned().collect();
        let next = match live.next() {
            Some(_) => page.last().map(|r| r.placement.clone()),
            None => None,
        };
        Ok((page, next))
    }

    async fn write(&self, record: &PlacementRecord) -> Result<bool, ServiceError> {
        let mut revisions = self.revisions.lock().unwrap();
        let history = revisions.entry(record.placement.clone()).or_default();
        let latest = history.last().map_or(0, |r| r.revision);
        if latest + 1 != record.revision {
            return Ok(false);
        }
        history.push(record.clone());
        Ok(true)
    }

    async fn history(&self, placement: &str, limit: u32) -> Result<Vec<PlacementRecord>, ServiceError> {
        let revisions = self.revisions.lock().unwrap();
        Ok(revisions
            .get(placement)
            .map(|r| r.iter().rev().take(limit as usize).cloned().collect())
            .unwrap_or_default())
    }
}

#[derive(Default)]
pub struct FakeEventLedger {
    /// Claimed event ids and until when.
    pub claims: Mutex<HashMap<String, i64>>,
    pub credits: Mutex<HashMap<String, [i64; 2]>>,
    /// The next claim fails, as a table that is down would.
    pub failing: Mutex<bool>,
}

#[async_trait]
impl EventLedger for FakeEventLedger {
    async fn claim(&self, event_ids: &[&str], expires_at: i64) -> Result<Vec<bool>, ServiceError> {
        if std::mem::take(&mut *self.failing.lock().unwrap()) {
            return Err(injected("DynamoDB", "PutItem"));
        }
        let mut claims = self.claims.lock().unwrap();
        Ok(event_ids
            .iter()
            .map(|id| match claims.contains_key(*id) {
                true => false,
                false => claims.insert((*id).to_owned(), expires_at).is_none(),
            })
            .collect())
    }

    async fn release(&self, event_ids: &[&str]) -> Result<(), ServiceError> {
        let mut claims = self.claims.lock().unwrap();
        for id in event_ids {
            claims.remove(*id);
        }
        Ok(())
    }

    async fn credit(
        &self,
        impression: &str,
        add: [i64; 2],
        _expires_at: i64,
    ) -> Result<[i64; 2], ServiceError> {
        let mut credits = self.credits.lock().unwrap();
        let tally = credits.entry(impression.to_owned()).or_default();
        tally[0] += add[0];
        tally[1] += add[1];
        Ok(*tally)
    }
}

#[derive(Default)]
pub struct FakeAggregates {
    pub counts: Mutex<BTreeMap<AggregateKey, Counts>>,
    /// Rows written, one per key and call as the adapter's writes.
    pub writes: Mutex<u32>,
    /// The next this many `add` calls fail.
    pub failing: Mutex<u32>,
}

impl FakeAggregates {
    pub fn rows(&self) -> Vec<AggregateRow> {
        let counts = self.counts.lock().unwrap();
        counts
            .iter()
            .map(|(key, counts)| AggregateRow {
                key: key.clone(),
                counts: *counts,
            })
            .collect()
    }
}

#[async_trait]
impl AggregateStore for FakeAggregates {
    async fn add(&self, rows: &[AggregateRow]) -> Result<(), ServiceError> {
        {
            let mut failing = self.failing.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(injected("DynamoDB", "UpdateItem"));
            }
        }
        let mut counts = self.counts.lock().unwrap();
        for row in rows {
            counts.entry(row.key.clone()).or_default().add(&row.counts);
        }
        *self.writes.lock().unwrap() += rows.len() as u32;
        Ok(())
    }

    async fn read(&self, placement: &str, from: Date, to: Date) -> Result<Vec<AggregateRow>, ServiceError> {
        Ok(sum_rows(self.rows().into_iter().filter(|row| {
            row.key.placement == placement && row.key.day >= from && row.key.day <= to
        })))
    }
}

#[derive(Default)]
pub struct FakeRawEvents {
    pub records: Mutex<Vec<Vec<u8>>>,
    /// The next put fails.
    pub failing: Mutex<bool>,
}

impl FakeRawEvents {
    /// The records as JSON.
    pub fn lines(&self) -> Vec<serde_json::Value> {
        let records = self.records.lock().unwrap();
        records
            .iter()
            .map(|r| serde_json::from_slice(r).expect("a JSON line"))
            .collect()
    }
}

#[async_trait]
impl RawEventSink for FakeRawEvents {
    async fn put(&self, records: Vec<Vec<u8>>) -> Result<(), ServiceError> {
        if std::mem::take(&mut *self.failing.lock().unwrap()) {
            return Err(injected("Firehose", "PutRecordBatch"));
        }
        self.records.lock().unwrap().extend(records);
        Ok(())
    }
}

pub struct FakeSigningKeys {
    pub ring: Mutex<KeyRing>,
    /// Reads of the secret (`refresh` asked for one).
    pub reads: Mutex<u32>,
}

impl Default for FakeSigningKeys {
    fn default() -> Self {
        Self {
            ring: Mutex::new(KeyRing {
                current: SigningKey::new(b"test-signing-key".to_vec()),
                previous: None,
            }),
            reads: Mutex::new(0),
        }
    }
}

impl FakeSigningKeys {
    /// A new current key, the current one becoming the previous (a rotation).
    pub fn rotate(&self, secret: &str) {
        let mut ring = self.ring.lock().unwrap();
        let previous = ring.current.clone();
        *ring = KeyRing {
            current: SigningKey::new(secret.as_bytes().to_vec()),
            previous: Some(previous),
        };
    }
}

#[async_trait]
impl SigningKeys for FakeSigningKeys {
    async fn ring(&self, refresh: bool) -> Result<KeyRing, ServiceError> {
        if refresh {
            *self.reads.lock().unwrap() += 1;
        }
        Ok(self.ring.lock().unwrap().clone())
    }
}
