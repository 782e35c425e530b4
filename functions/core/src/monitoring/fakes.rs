//! The monitoring log in memory, with the store's rules (one open alert per KPI, notes once).

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Mutex;

use async_trait::async_trait;

use super::ports::MonitoringLog;
use super::{Kpi, KpiAlert};
use crate::errors::ServiceError;

#[derive(Default)]
pub struct FakeMonitoringLog {
    open: Mutex<BTreeMap<(String, Kpi), KpiAlert>>,
    closed: Mutex<Vec<KpiAlert>>,
    notes: Mutex<BTreeSet<(String, String)>>,
}

impl FakeMonitoringLog {
    pub fn closed(&self) -> Vec<KpiAlert> {
        self.closed.lock().unwrap().clone()
    }

    pub fn notes(&self) -> Vec<(String, String)> {
        self.notes.lock().unwrap().iter().cloned().collect()
    }
}

#[async_trait]
impl MonitoringLog for FakeMonitoringLog {
    async fn open_alert(&self, alert: &KpiAlert) -> Result<bool, ServiceError> {
        let mut open = self.open.lock().unwrap();
        let key = (alert.placement.clone(), alert.kpi);
        if open.contains_key(&key) {
            return Ok(false);
        }
        open.insert(key, alert.clone());
        Ok(true)
    }

    async fn open_alerts(&self, placement: &str) -> Result<Vec<KpiAlert>, ServiceError> {
        let open = self.open.lock().unwrap();
        Ok(open
            .values()
            .filter(|a| a.placement == placement)
            .cloned()
            .collect())
    }

    async fn close_alert(&self, placement: &str, kpi: Kpi, closed_on: &str) -> Result<(), ServiceError> {
        let removed = self.open.lock().unwrap().remove(&(placement.to_owned(), kpi));
        if let Some(mut alert) = removed {
            alert.closed_on = Some(closed_on.to_owned());
            self.closed.lock().unwrap().push(alert);
        }
        Ok(())
    }

    async fn note_once(&self, placement: &str, note: &str, _expires_at: i64) -> Result<bool, ServiceError> {
        Ok(self
            .notes
            .lock()
            .unwrap()
            .insert((placement.to_owned(), note.to_owned())))
    }
}
