//! In-memory triggers table and delayed checks, for tests (feature `fakes`), with the real
//! rules: conditional create, replace only at the revision read, one check per name.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::ports::{CheckStart, TriggerChecks, TriggerCreated, TriggerStore};
use super::record::TriggerRecord;
use super::TriggerId;
use crate::errors::ServiceError;
use crate::fakes::{recent_page, replace_at_revision};

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
        Ok(replace_at_revision(
            &self.records,
            &self.losing_replaces,
            &record.trigger_id,
            record,
            read_revision,
        ))
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<TriggerRecord>, Option<String>), ServiceError> {
        Ok(recent_page(&self.records, limit, after))
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
