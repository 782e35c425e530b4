//! The runner's ports in Lambda: the SDK adapters, built once per process in `main`.

use recoflow_aws::{
    DynamoJobStore, DynamoSlotStore, PersonalizeService, SageMakerService, SfnExecutionLookup,
    SfnTaskCallbacks, SsmQuotaLimits,
};
use recoflow_core::clock::SystemClock;

use crate::config::RunnerSettings;
use crate::ports::RunnerPorts;

pub struct LiveRunnerPorts {
    pub jobs: DynamoJobStore,
    pub slots: DynamoSlotStore,
    pub limits: SsmQuotaLimits,
    pub sagemaker: SageMakerService,
    pub personalize: PersonalizeService,
    pub executions: SfnExecutionLookup,
    pub callbacks: SfnTaskCallbacks,
    pub settings: RunnerSettings,
}

impl RunnerPorts for LiveRunnerPorts {
    type Jobs = DynamoJobStore;
    type Slots = DynamoSlotStore;
    type Limits = SsmQuotaLimits;
    type SageMaker = SageMakerService;
    type Personalize = PersonalizeService;
    type Clock = SystemClock;
    type Executions = SfnExecutionLookup;
    type Callbacks = SfnTaskCallbacks;

    fn jobs(&self) -> &DynamoJobStore {
        &self.jobs
    }

    fn slots(&self) -> &DynamoSlotStore {
        &self.slots
    }

    fn limits(&self) -> &SsmQuotaLimits {
        &self.limits
    }

    fn sagemaker(&self) -> &SageMakerService {
        &self.sagemaker
    }

    fn personalize(&self) -> &PersonalizeService {
        &self.personalize
    }

    fn clock(&self) -> &SystemClock {
        &SystemClock
    }

    fn executions(&self) -> &SfnExecutionLookup {
        &self.executions
    }

    fn callbacks(&self) -> &SfnTaskCallbacks {
        &self.callbacks
    }

    fn settings(&self) -> &RunnerSettings {
        &self.settings
    }
}
