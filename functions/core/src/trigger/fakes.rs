//! In-memory triggers table and delayed checks, for tests (feature `fakes`), with the real
//! rules: conditional create, replace only at the revision read, one check per name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::ports::{CheckStart, TriggerChecks, TriggerCreated, TriggerStore};
use super::record::TriggerRecord;
use super::TriggerId;
use crate::errors::ServiceError;

#[derive(Default)]
pub struct FakeTriggerStore {
    pub records: Mutex<BTreeMap<TriggerId, TriggerRecord>>,
    /// Which triggers watch each URI.
    pub watches: Mutex<BTreeMap<String, BTreeSet<TriggerId>>>,
    /// The next this many `watch` calls fail.
    pub failing_watches: Mutex<u32>,
    /// The next this many replaces lose to another writer (the record is bumped meanwhile).
    pub losing_replaces: Mutex<u32>,
}

impl FakeTriggerStore {
    pub fn record(&self, id: &TriggerId) -> Option<TriggerRecord> {
        self.records.lock().unwrap().get(id).cloned()
    }
}

#[async_trait]
impl TriggerStore for FakeTriggerStore {
    async fn get(&self, id: &TriggerId) -> Result<Option<TriggerRecord>, ServiceError> {
        Ok(self.record(id))
    }

    async fn create(&self, record: &TriggerRecord) -> Result<TriggerCreated, ServiceError> {
        let mut records = self.records.lock().unwrap();
        if let Some(existing) = records.get(&record.trigger_id) {
            return Ok(TriggerCreated::AlreadyExists(Box::new(existing.clone())));
        }
        records.insert(record.trigger_id.clone(), record.clone());
        Ok(TriggerCreated::New)
    }

    async fn replace(&self, record: &TriggerRecord, read_revision: u64) -> Result<bool, ServiceError> {
        let mut records = self.records.lock().unwrap();
        let Some(stored) = records.get_mut(&record.trigger_id) else {
            return Ok(false);
        };
        let mut losing = self.losing_replaces.lock().unwrap();
        if *losing > 0 {
            *losing -= 1;
            stored.revision += 1;
            return Ok(false);
        }
        if stored.revision != read_revision {
            return Ok(false);
        }
        *stored = record.clone();
        Ok(true)
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<TriggerRecord>, Option<String>), ServiceError> {
        let cursor = |r: &TriggerRecord| format!("{}~{}", r.created_at, r.trigger_id);
        let mut listed: Vec<_> = self
            .records
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.listing.is_some())
            .cloned()
            .collect();
        listed.sort_by_key(|r| std::cmp::Reverse(cursor(r)));
        let start = after
            .and_then(|after| listed.iter().position(|r| cursor(r) == after))
            .map_or(0, |i| i + 1);
        let page: Vec<_> = listed.iter().skip(start).take(limit as usize).cloned().collect();
        let next = (start + page.len() < listed.len())
            .then(|| page.last().map(cursor))
            .flatten();
        Ok((page, next))
    }

    async fn watch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError> {
        let mut failing = self.failing_watches.lock().unwrap();
        if *failing > 0 {
            *failing -= 1;
            return Err(ServiceError::Failed {
                service: "DynamoDB",
                operation: "UpdateItem",
                message: "injected failure".into(),
            });
        }
        let mut watches = self.watches.lock().unwrap();
        for uri in uris {
            watches.entry(uri.clone()).or_default().insert(id.clone());
        }
        Ok(())
    }

    async fn unwatch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError> {
        let mut watches = self.watches.lock().unwrap();
        for uri in uris {
            if let Some(ids) = watches.get_mut(uri) {
                ids.remove(id);
            }
        }
        Ok(())
    }

    async fn watching(&self, uri: &str) -> Result<Vec<TriggerId>, ServiceError> {
        let watches = self.watches.lock().unwrap();
        Ok(watches
            .get(uri)
            .map(|ids| ids.iter().cloned().collect())
            .unwrap_or_default())
    }
}

/// Checks started, by name; a name used before starts nothing.
#[derive(Default)]
pub struct FakeTriggerChecks {
    pub checks: Mutex<Vec<(String, String)>>,
}

impl FakeTriggerChecks {
    /// (name, input) of every check started, in order.
    pub fn started(&self) -> Vec<(String, String)> {
        self.checks.lock().unwrap().clone()
    }
}

#[async_trait]
impl TriggerChecks for FakeTriggerChecks {
    async fn start_check(&self, name: &str, input: &str) -> Result<CheckStart, ServiceError> {
        let mut checks = self.checks.lock().unwrap();
        if checks.iter().any(|(existing, _)| existing == name) {
            return Ok(CheckStart::AlreadyExists);
        }
        checks.push((name.to_owned(), input.to_owned()));
        Ok(CheckStart::Started)
    }
}
