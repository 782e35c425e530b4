//! What the runner's steps reach the world through: one trait, implemented by the SDK
//! adapters in Lambda (`live`) and by the in-memory fakes in tests (`fake`).

use recoflow_core::clock::Clock;
use recoflow_core::form::Backend;
use recoflow_core::ports::{ExecutionLookup, JobStore, LimitSource, MlService, SlotStore, TaskCallbacks};

use crate::config::RunnerSettings;

pub trait RunnerPorts: Send + Sync {
    type Jobs: JobStore;
    type Slots: SlotStore;
    type Limits: LimitSource;
    /// SageMaker (the container backend).
    type SageMaker: MlService;
    type Personalize: MlService;
    type Clock: Clock;
    /// Step Functions, to ask how a job's execution stands (the sweep).
    type Executions: ExecutionLookup;
    /// Step Functions, to wake a job waiting for quota once a slot was taken for it.
    type Callbacks: TaskCallbacks;

    fn jobs(&self) -> &Self::Jobs;
    fn slots(&self) -> &Self::Slots;
    fn limits(&self) -> &Self::Limits;
    fn sagemaker(&self) -> &Self::SageMaker;
    fn personalize(&self) -> &Self::Personalize;
    fn clock(&self) -> &Self::Clock;
    fn executions(&self) -> &Self::Executions;
    fn callbacks(&self) -> &Self::Callbacks;
    fn settings(&self) -> &RunnerSettings;

    /// The service that runs this backend's resources.
    fn service(&self, backend: Backend) -> &dyn MlService {
        match backend {
            Backend::Container => self.sagemaker(),
            Backend::Personalize => self.personalize(),
        }
    }
}
