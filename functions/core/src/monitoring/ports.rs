//! Where monitoring keeps what it sent: the open alert of each placement's KPI (one at most,
//! so a breach alerts once however often it is checked), closed alerts, and notes of messages
//! sent once (a day's summary, a test's significance). The events table in `recoflow-aws`;
//! in memory in `fakes`.

use async_trait::async_trait;

use super::{Kpi, KpiAlert};
use crate::errors::ServiceError;

#[async_trait]
pub trait MonitoringLog: Send + Sync {
    /// Keeps `alert` as its placement's open alert of its KPI unless one is open (one
    /// conditional write): `true` when this call opened it.
    async fn open_alert(&self, alert: &KpiAlert) -> Result<bool, ServiceError>;
    /// The placement's open alerts, by KPI.
    async fn open_alerts(&self, placement: &str) -> Result<Vec<KpiAlert>, ServiceError>;
    /// Closes the open alert of the placement's KPI (its value is back in its band): it leaves
    /// the open ones and is kept with `closed_on`.
    async fn close_alert(&self, placement: &str, kpi: Kpi, closed_on: &str) -> Result<(), ServiceError>;
    /// Notes that the message `note` of the placement went out (kept until `expires_at`, unix
    /// seconds): `true` when this call noted it first.
    async fn note_once(&self, placement: &str, note: &str, expires_at: i64) -> Result<bool, ServiceError>;
}
