//! The ports in Lambda: the SDK adapters, the HTTPS poster and the system clock.

use recoflow_aws::{
    DynamoAggregates, DynamoMonitoringLog, DynamoPlacements, HttpsPoster, S3Objects, SsmSecret,
};
use recoflow_core::clock::SystemClock;

use crate::ports::monitor_ports_struct;

monitor_ports_struct!(LiveMonitorPorts {
    placements: DynamoPlacements,
    aggregates: DynamoAggregates,
    log: DynamoMonitoringLog,
    objects: S3Objects,
    secret: SsmSecret,
    poster: HttpsPoster,
    clock: SystemClock,
});
