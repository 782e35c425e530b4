//! What the API's routes reach the world through: one trait, implemented by the SDK adapters
//! in Lambda (`live`) and by the in-memory fakes in tests and the benchmark (`fake`).

use recoflow_core::clock::Clock;
use recoflow_core::ports::{
    Executions, JobStore, MetricSums, ObjectStore, RecommendationStore, ScheduleStore, Scheduler,
    SecretSource, SlotStore, VersionStore,
};
use recoflow_core::trigger::ports::TriggerStore;

use crate::config::ApiSettings;
use crate::experiment_ports::ExperimentPorts;
use crate::pointer_cache::PointerCache;

/// Where the recommendations route's embedded-metric-format lines go: standard output in
/// Lambda, whose log lines CloudWatch turns into metrics (no call of its own per answer).
pub trait MetricLog: Send + Sync {
    fn emit(&self, line: String);
}

/// Built once per instance and kept for its life (`'static`: the routing table is a constant).
pub trait ApiPorts: Send + Sync + 'static {
    type Experiments: ExperimentPorts;
    type Jobs: JobStore;
    /// The job state machine's executions.
    type Executions: Executions;
    /// The quota table: a cancelled job's slots are given back at once.
    type Slots: SlotStore;
    /// The recommendations table: lists, result-set pointers, version records and result-set
    /// entries (one table, so the fake's pointer is the one both views of it switch).
    type Lists: RecommendationStore + VersionStore;
    /// The data bucket, whose files the web page offers.
    type Objects: ObjectStore;
    /// The web page's access token.
    type UiToken: SecretSource;
    /// The recommendations route's answers as CloudWatch counted them.
    type Metrics: MetricSums;
    type MetricLog: MetricLog;
    type Clock: Clock;
    /// The schedules table: recurring forms, their state and runs.
    type Schedules: ScheduleStore;
    /// EventBridge Scheduler: a recurring form's schedule, paused, resumed, deleted.
    type Scheduler: Scheduler;
    /// The triggers table: data-driven forms and the files they watch.
    type Triggers: TriggerStore;

    fn jobs(&self) -> &Self::Jobs;
    fn executions(&self) -> &Self::Executions;
    fn slots(&self) -> &Self::Slots;
    fn lists(&self) -> &Self::Lists;
    fn objects(&self) -> &Self::Objects;
    fn ui_token(&self) -> &Self::UiToken;
    fn metrics(&self) -> &Self::Metrics;
    fn metric_log(&self) -> &Self::MetricLog;
    fn clock(&self) -> &Self::Clock;
    fn schedules(&self) -> &Self::Schedules;
    fn scheduler(&self) -> &Self::Scheduler;
    fn triggers(&self) -> &Self::Triggers;
    /// Result-set pointers read recently (this instance's own).
    fn pointers(&self) -> &PointerCache;
    /// Placements, events, their aggregates and the signing key.
    fn experiments(&self) -> &Self::Experiments;
    fn settings(&self) -> &ApiSettings;
}

/// The API's ports as the one submit path (`recoflow_core::submit`) takes them.
pub struct Submitting<'a, P>(pub &'a P);

impl<P: ApiPorts> recoflow_core::schedule::firing::FiringPorts for Submitting<'_, P> {
    type Jobs = P::Jobs;
    type Executions = P::Executions;
    type Schedules = P::Schedules;
    type Triggers = P::Triggers;
    type Clock = P::Clock;

    fn jobs(&self) -> &Self::Jobs {
        self.0.jobs()
    }
    fn executions(&self) -> &Self::Executions {
        self.0.executions()
    }
    fn schedules(&self) -> &Self::Schedules {
        self.0.schedules()
    }
    fn triggers(&self) -> &Self::Triggers {
        self.0.triggers()
    }
    fn clock(&self) -> &Self::Clock {
        self.0.clock()
    }
}

impl<P: ApiPorts> recoflow_core::submit::SubmitPorts for Submitting<'_, P> {
    type Scheduler = P::Scheduler;

    fn scheduler(&self) -> &Self::Scheduler {
        self.0.scheduler()
    }
}
