//! The ports in tests: the fakes of `recoflow-core`.

use std::time::Duration;

use recoflow_core::fakes::{FakeAggregates, FakeClock, FakeObjects, FakePlacements, FakePoster, FakeSecret};
use recoflow_core::monitoring::fakes::FakeMonitoringLog;

use crate::config::{MonitorSettings, CHART_URL_LIFETIME};
use crate::ports::monitor_ports_struct;

monitor_ports_struct!(FakeMonitorPorts {
    placements: FakePlacements,
    aggregates: FakeAggregates,
    log: FakeMonitoringLog,
    objects: FakeObjects,
    secret: FakeSecret,
    poster: FakePoster,
    clock: FakeClock,
});

impl Default for FakeMonitorPorts {
    fn default() -> Self {
        Self {
            placements: FakePlacements::default(),
            aggregates: FakeAggregates::default(),
            log: FakeMonitoringLog::default(),
            objects: FakeObjects::default(),
            webhook: FakeSecret(Some("https://hooks.slack.test/T/B/x".into())),
            api_url: FakeSecret(Some("https://api.test/prod".into())),
            poster: FakePoster::default(),
            clock: FakeClock::default(),
            settings: MonitorSettings {
                region: "us-east-1".into(),
                dashboard_name: "recoflow-serving".into(),
                results_bucket: "results".into(),
                retry_budget: Duration::from_secs(60),
                chart_url_lifetime: CHART_URL_LIFETIME,
            },
        }
    }
}
