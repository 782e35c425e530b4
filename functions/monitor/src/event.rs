//! What invokes the check: the daily EventBridge rule (its scheduled event names no day: the
//! day before, UTC, is checked) or a person, naming a day and perhaps one placement.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Deserialize)]
pub struct MonitorEvent {
    /// The day to check, `2026-12-01`; absent: yesterday (UTC), the last whole day.
    #[serde(default)]
    pub day: Option<String>,
    /// Only this placement; absent: every placement.
    #[serde(default)]
    pub placement: Option<String>,
}

/// What one check did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MonitorOutcome {
    pub day: String,
    /// Placements whose monitoring asked for something.
    pub checked: u32,
    /// Alerts opened (and sent) by this check.
    pub alerts: u32,
    /// Alerts closed: their KPI was back in its band.
    pub closed: u32,
    pub summaries: u32,
    /// Tests that reached significance and were announced.
    pub significant: u32,
}

impl MonitorOutcome {
    pub fn add(&mut self, other: &MonitorOutcome) {
        self.checked += other.checked;
        self.alerts += other.alerts;
        self.closed += other.closed;
        self.summaries += other.summaries;
        self.significant += other.significant;
    }
}
