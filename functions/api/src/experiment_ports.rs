//! What the placement and event routes reach beside the API's other ports: the placements
//! table, the events table (claims, aggregates, monitoring's open alerts), the raw-event
//! stream and the signing key, and the placements this instance read recently.

use std::time::Duration;

use recoflow_core::clock::Clock;
use recoflow_core::errors::ServiceError;
use recoflow_core::monitoring::ports::MonitoringLog;
use recoflow_core::placement::Placement;
use recoflow_core::ports::{AggregateStore, EventLedger, PlacementStore, RawEventSink, SigningKeys};

use crate::read_cache::ReadCache;

/// How stale a placement may be: a change is served within this time, without a redeploy.
pub const PLACEMENT_MAX_AGE: Duration = Duration::from_secs(5);

pub trait ExperimentPorts: Send + Sync + 'static {
    type Placements: PlacementStore;
    type Ledger: EventLedger;
    type Aggregates: AggregateStore;
    type RawEvents: RawEventSink;
    type Keys: SigningKeys;
    type Monitoring: MonitoringLog;

    fn placements(&self) -> &Self::Placements;
    fn ledger(&self) -> &Self::Ledger;
    fn aggregates(&self) -> &Self::Aggregates;
    fn raw_events(&self) -> &Self::RawEvents;
    fn keys(&self) -> &Self::Keys;
    /// The placements' open KPI alerts (written by the monitor function).
    fn monitoring(&self) -> &Self::Monitoring;
    fn placement_cache(&self) -> &PlacementCache;
}

/// Placements read recently (`None`: none of that name, or deleted).
pub struct PlacementCache(ReadCache<Option<Placement>>);

impl Default for PlacementCache {
    fn default() -> Self {
        Self(ReadCache::new(PLACEMENT_MAX_AGE))
    }
}

impl PlacementCache {
    /// The placement's current document, from the cache while it is fresh.
    pub async fn get<S: PlacementStore, C: Clock>(
        &self,
        store: &S,
        clock: &C,
        name: &str,
    ) -> Result<Option<Placement>, ServiceError> {
        self.0
            .get(clock, name, || async {
                Ok(store.latest(name).await?.and_then(|record| record.document))
            })
            .await
    }

    /// After a change: this instance serves the new document at once.
    pub fn forget(&self, name: &str) {
        self.0.forget(name);
    }
}

/// The in-memory ports (tests and the benchmarks).
#[cfg(any(test, feature = "fakes"))]
pub mod fake {
    use recoflow_core::fakes::{
        FakeAggregates, FakeEventLedger, FakePlacements, FakeRawEvents, FakeSigningKeys,
    };
    use recoflow_core::monitoring::fakes::FakeMonitoringLog;

    use super::*;

    #[derive(Default)]
    pub struct FakeExperimentPorts {
        pub placements: FakePlacements,
        pub ledger: FakeEventLedger,
        pub aggregates: FakeAggregates,
        pub raw_events: FakeRawEvents,
        pub keys: FakeSigningKeys,
        pub monitoring: FakeMonitoringLog,
        pub placement_cache: PlacementCache,
    }

    impl ExperimentPorts for FakeExperimentPorts {
        type Placements = FakePlacements;
        type Ledger = FakeEventLedger;
        type Aggregates = FakeAggregates;
        type RawEvents = FakeRawEvents;
        type Keys = FakeSigningKeys;
        type Monitoring = FakeMonitoringLog;

        fn placements(&self) -> &Self::Placements {
            &self.placements
        }
        fn ledger(&self) -> &Self::Ledger {
            &self.ledger
        }
        fn aggregates(&self) -> &Self::Aggregates {
            &self.aggregates
        }
        fn raw_events(&self) -> &Self::RawEvents {
            &self.raw_events
        }
        fn keys(&self) -> &Self::Keys {
            &self.keys
        }
        fn monitoring(&self) -> &Self::Monitoring {
            &self.monitoring
        }
        fn placement_cache(&self) -> &PlacementCache {
            &self.placement_cache
        }
    }
}

/// The SDK adapters (Lambda).
pub mod live {
    use aws_config::SdkConfig;
    use recoflow_aws::clients::{DynamoDb, Firehose, SecretsManager};
    use recoflow_aws::{
        DynamoAggregates, DynamoEventLedger, DynamoMonitoringLog, DynamoPlacements, FirehoseRawEvents,
        SecretsManagerKeys,
    };

    use super::*;

    /// A rotated signing key is used within this time (and an unknown key id makes the
    /// instance look at once, at most every 10 s).
    const KEY_MAX_AGE: Duration = Duration::from_secs(300);

    /// Where the routes' tables, stream and secret are.
    pub struct ExperimentResources<'a> {
        pub placements_table: &'a str,
        pub events_table: &'a str,
        pub events_stream: &'a str,
        pub signing_key_secret: &'a str,
    }

    pub struct LiveExperimentPorts {
        placements: DynamoPlacements,
        ledger: DynamoEventLedger,
        aggregates: DynamoAggregates,
        raw_events: FirehoseRawEvents,
        keys: SecretsManagerKeys,
        monitoring: DynamoMonitoringLog,
        placement_cache: PlacementCache,
    }

    impl LiveExperimentPorts {
        pub fn new(resources: &ExperimentResources<'_>, dynamodb: &DynamoDb, sdk: &SdkConfig) -> Self {
            Self {
                placements: DynamoPlacements::new(dynamodb.clone(), resources.placements_table),
                ledger: DynamoEventLedger::new(dynamodb.clone(), resources.events_table),
                aggregates: DynamoAggregates::new(dynamodb.clone(), resources.events_table),
                raw_events: FirehoseRawEvents::new(Firehose::new(sdk), resources.events_stream),
                keys: SecretsManagerKeys::new(
                    SecretsManager::new(sdk),
                    resources.signing_key_secret,
                    KEY_MAX_AGE,
                ),
                monitoring: DynamoMonitoringLog::new(dynamodb.clone(), resources.events_table),
                placement_cache: PlacementCache::default(),
            }
        }
    }

    impl ExperimentPorts for LiveExperimentPorts {
        type Placements = DynamoPlacements;
        type Ledger = DynamoEventLedger;
        type Aggregates = DynamoAggregates;
        type RawEvents = FirehoseRawEvents;
        type Keys = SecretsManagerKeys;
        type Monitoring = DynamoMonitoringLog;

        fn placements(&self) -> &Self::Placements {
            &self.placements
        }
        fn ledger(&self) -> &Self::Ledger {
            &self.ledger
        }
        fn aggregates(&self) -> &Self::Aggregates {
            &self.aggregates
        }
        fn raw_events(&self) -> &Self::RawEvents {
            &self.raw_events
        }
        fn keys(&self) -> &Self::Keys {
            &self.keys
        }
        fn monitoring(&self) -> &Self::Monitoring {
            &self.monitoring
        }
        fn placement_cache(&self) -> &PlacementCache {
            &self.placement_cache
        }
    }
}

/// Result sets and placements as the placement tests and the benchmark set them up.
#[cfg(any(test, feature = "fakes"))]
pub mod fixtures {
    use recoflow_core::delivery::{keys, Pointer, StoredList};
    use recoflow_core::job::JobId;
    use recoflow_core::placement::validation::validate_placement;
    use recoflow_core::placement::PlacementRecord;

    use crate::fake::FakeApiPorts;

    /// Publishes `version` of `result_set`: each user's personal list, and the global list.
    pub fn publish(
        ports: &FakeApiPorts,
        result_set: &str,
        version: &str,
        users: &[(&str, &[&str])],
        global: &[&str],
    ) {
        let list = |pk: String, items: &[&str]| StoredList {
            pk,
            items: items.iter().map(|i| i.to_string()).collect(),
            scores: (0..items.len()).map(|i| 1.0 - i as f64 / 100.0).collect(),
            segment: None,
            expires_at: 0,
        };
        let mut lists = ports.lists.lists.lock().unwrap();
        for (user, items) in users {
            let stored = list(keys::user(result_set, version, user), items);
            lists.insert(stored.pk.clone(), stored);
        }
        let stored = list(keys::global(result_set, version), global);
        lists.insert(stored.pk.clone(), stored);
        drop(lists);
        let pointer = Pointer {
            pk: keys::pointer(result_set),
            result_set: result_set.into(),
            version: version.into(),
            job_id: JobId::parse(&format!("{result_set}-job")).unwrap(),
            published_at: "2026-12-01T00:00:00.000Z".into(),
            num_results: 10,
            excluded_items: Vec::new(),
            users: users.len() as u64,
            segments: 0,
            expires_at: 0,
            previous_version: None,
            segment_dimensions: Default::default(),
            output: Default::default(),
        };
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .insert(result_set.into(), pointer);
    }

    /// Stores a placement document (valid JSON of the schema) as its next revision.
    pub fn place(ports: &FakeApiPorts, document: &serde_json::Value) {
        let placement = validate_placement(document.to_string().as_bytes()).expect("a valid placement");
        let mut revisions = ports.experiments.placements.revisions.lock().unwrap();
        let history = revisions.entry(placement.placement.clone()).or_default();
        history.push(PlacementRecord {
            placement: placement.placement.clone(),
            revision: history.len() as u64 + 1,
            document: Some(placement),
            updated_by: "test".into(),
            updated_at: "2026-12-01T00:00:00Z".into(),
        });
    }
}
