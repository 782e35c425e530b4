//! What the check works with: the placements table, the events table (aggregates, and the
//! monitoring log beside them), the results bucket (charts), the Slack webhook and API URL
//! parameters, the poster, the time and its settings (in Lambda, `live`; in tests, `fake`).

use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::ports::{AggregateStore, Clock, ObjectStore, PlacementStore, SecretSource, WebhookPoster};

use crate::config::MonitorSettings;

pub trait MonitorPorts: Send + Sync {
    type Placements: PlacementStore;
    type Aggregates: AggregateStore;
    type Log: MonitoringLog;
    type Objects: ObjectStore;
    type Secret: SecretSource;
    type Poster: WebhookPoster;
    type Clock: Clock;
    fn placements(&self) -> &Self::Placements;
    fn aggregates(&self) -> &Self::Aggregates;
    fn log(&self) -> &Self::Log;
    fn objects(&self) -> &Self::Objects;
    /// The Slack webhook URL; `None` when none is configured.
    fn webhook(&self) -> &Self::Secret;
    /// The REST API's base URL, for links to the placement's page; no link without it.
    fn api_url(&self) -> &Self::Secret;
    fn poster(&self) -> &Self::Poster;
    fn clock(&self) -> &Self::Clock;
    fn settings(&self) -> &MonitorSettings;
}

/// Declares a struct holding one value per port and its [`MonitorPorts`] implementation: the
/// live ports and the tests' fakes differ only in these types.
macro_rules! monitor_ports_struct {
    ($name:ident {
        placements: $placements:ty,
        aggregates: $aggregates:ty,
        log: $log:ty,
        objects: $objects:ty,
        secret: $secret:ty,
        poster: $poster:ty,
        clock: $clock:ty $(,)?
    }) => {
        pub struct $name {
            pub placements: $placements,
            pub aggregates: $aggregates,
            pub log: $log,
            pub objects: $objects,
            pub webhook: $secret,
            pub api_url: $secret,
            pub poster: $poster,
            pub clock: $clock,
            pub settings: $crate::config::MonitorSettings,
        }

        impl $crate::ports::MonitorPorts for $name {
            type Placements = $placements;
            type Aggregates = $aggregates;
            type Log = $log;
            type Objects = $objects;
            type Secret = $secret;
            type Poster = $poster;
            type Clock = $clock;

            fn placements(&self) -> &Self::Placements {
                &self.placements
            }

            fn aggregates(&self) -> &Self::Aggregates {
                &self.aggregates
            }

            fn log(&self) -> &Self::Log {
                &self.log
            }

            fn objects(&self) -> &Self::Objects {
                &self.objects
            }

            fn webhook(&self) -> &Self::Secret {
                &self.webhook
            }

            fn api_url(&self) -> &Self::Secret {
                &self.api_url
            }

            fn poster(&self) -> &Self::Poster {
                &self.poster
            }

            fn clock(&self) -> &Self::Clock {
                &self.clock
            }

            fn settings(&self) -> &$crate::config::MonitorSettings {
                &self.settings
            }
        }
    };
}

pub(crate) use monitor_ports_struct;
