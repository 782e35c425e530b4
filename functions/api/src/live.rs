//! The API's ports in Lambda: the SDK adapters, built once per instance.

use std::time::Duration;

use aws_config::SdkConfig;
use recoflow_aws::clients::{CloudWatch, DynamoDb, Scheduler, Ssm, StepFunctions};
use recoflow_aws::{
    CloudWatchMetrics, DynamoJobStore, DynamoRecommendations, DynamoScheduleStore, DynamoSlotStore,
    DynamoTriggerStore, EventBridgeScheduler, S3Objects, SfnExecutions, SsmSecret,
};
use recoflow_core::clock::SystemClock;

use crate::config::{ApiConfig, ApiSettings};
use crate::experiment_ports::live::LiveExperimentPorts;
use crate::pointer_cache::PointerCache;
use crate::ports::{ApiPorts, MetricLog};

/// A rotated page token is accepted within this time.
const UI_TOKEN_MAX_AGE: Duration = Duration::from_secs(30);

/// Lambda hands a function's standard output to CloudWatch Logs line by line; a line that is
/// an embedded-metric-format document becomes metrics there (the tracing logs are JSON lines of
/// another shape, so they stay logs).
pub struct StdoutMetricLog;

impl MetricLog for StdoutMetricLog {
    fn emit(&self, line: String) {
        use std::io::Write;
        // One write of the whole line under the lock: lines never interleave with the logs.
        let _ = writeln!(std::io::stdout().lock(), "{line}");
    }
}

pub struct LivePorts {
    jobs: DynamoJobStore,
    executions: SfnExecutions,
    slots: DynamoSlotStore,
    lists: DynamoRecommendations,
    objects: S3Objects,
    ui_token: SsmSecret,
    metrics: CloudWatchMetrics,
    metric_log: StdoutMetricLog,
    clock: SystemClock,
    schedules: DynamoScheduleStore,
    scheduler: EventBridgeScheduler,
    triggers: DynamoTriggerStore,
    pointers: PointerCache,
    experiments: LiveExperimentPorts,
    settings: ApiSettings,
}

impl LivePorts {
    pub fn new(config: &ApiConfig, sdk: &SdkConfig) -> Self {
        let dynamodb = DynamoDb::new(sdk);
        Self {
            jobs: DynamoJobStore::new(dynamodb.clone(), &config.jobs_table),
            executions: SfnExecutions::new(StepFunctions::new(sdk), &config.state_machine_arn),
            slots: DynamoSlotStore::new(dynamodb.clone(), &config.quota_table),
            // Reads only: one BatchGetItem at a time per request.
            lists: DynamoRecommendations::new(
                dynamodb.clone(),
                &config.recommendations_table,
                &config.jobs_table,
                1,
            ),
            objects: S3Objects::from_sdk(sdk),
            ui_token: SsmSecret::new(Ssm::new(sdk), &config.ui_token_parameter, UI_TOKEN_MAX_AGE),
            metrics: CloudWatchMetrics::new(CloudWatch::new(sdk)),
            metric_log: StdoutMetricLog,
            clock: SystemClock,
            schedules: DynamoScheduleStore::new(dynamodb.clone(), &config.schedules_table),
            scheduler: EventBridgeScheduler::new(Scheduler::new(sdk), config.scheduler_target()),
            triggers: DynamoTriggerStore::new(dynamodb.clone(), &config.triggers_table),
            pointers: PointerCache::default(),
            experiments: LiveExperimentPorts::new(&config.experiment_resources(), &dynamodb, sdk),
            settings: config.settings(),
        }
    }
}

impl ApiPorts for LivePorts {
    type Experiments = LiveExperimentPorts;
    type Jobs = DynamoJobStore;
    type Executions = SfnExecutions;
    type Slots = DynamoSlotStore;
    type Lists = DynamoRecommendations;
    type Objects = S3Objects;
    type UiToken = SsmSecret;
    type Metrics = CloudWatchMetrics;
    type MetricLog = StdoutMetricLog;
    type Clock = SystemClock;
    type Schedules = DynamoScheduleStore;
    type Scheduler = EventBridgeScheduler;
    type Triggers = DynamoTriggerStore;

    fn schedules(&self) -> &Self::Schedules {
        &self.schedules
    }
    fn scheduler(&self) -> &Self::Scheduler {
        &self.scheduler
    }
    fn triggers(&self) -> &Self::Triggers {
        &self.triggers
    }

    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
    fn executions(&self) -> &Self::Executions {
        &self.executions
    }
    fn slots(&self) -> &Self::Slots {
        &self.slots
    }
    fn lists(&self) -> &Self::Lists {
        &self.lists
    }
    fn objects(&self) -> &Self::Objects {
        &self.objects
    }
    fn ui_token(&self) -> &Self::UiToken {
        &self.ui_token
    }
    fn metrics(&self) -> &Self::Metrics {
        &self.metrics
    }
    fn metric_log(&self) -> &Self::MetricLog {
        &self.metric_log
    }
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
    fn experiments(&self) -> &Self::Experiments {
        &self.experiments
    }
    fn pointers(&self) -> &PointerCache {
        &self.pointers
    }
    fn settings(&self) -> &ApiSettings {
        &self.settings
    }
}
