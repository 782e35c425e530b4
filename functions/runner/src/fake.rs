//! The runner's ports in tests: fakes that keep the real rules (conditional job writes, slot
//! capacity, services that refuse and fail, time that passes only when told), and the jobs the
//! tests start from.

use recoflow_core::fakes::{
    test_form, FakeClock, FakeExecutions, FakeJobStore, FakeLimits, FakeMlService, FakeSlots,
    FakeTaskCallbacks,
};
use recoflow_core::job::{JobId, JobStatus, Prepared, PreparedFile};
use recoflow_core::ports::{JobPatch, JobStore};
use recoflow_core::quota::Pool;

use crate::config::RunnerSettings;
use crate::ports::RunnerPorts;
use crate::step::RunnerOutput;

/// Limits with room in every pool the tests use.
pub const LIMITS: &str = r#"{"sagemaker-training:*": 2, "sagemaker-processing:*": 4,
    "personalize-dataset-imports": 5, "personalize-solution-versions": 2, "personalize-batch-inference": 2}"#;

pub struct FakeRunnerPorts {
    pub jobs: FakeJobStore,
    pub slots: FakeSlots,
    pub limits: FakeLimits,
    pub sagemaker: FakeMlService,
    pub personalize: FakeMlService,
    pub clock: FakeClock,
    pub executions: FakeExecutions,
    pub callbacks: FakeTaskCallbacks,
    pub settings: RunnerSettings,
}

impl FakeRunnerPorts {
    /// Empty stores and services, these quota limits (JSON, as in the SSM parameter).
    pub fn new(limits: &str) -> Self {
        Self {
            jobs: FakeJobStore::default(),
            slots: FakeSlots::default(),
            limits: FakeLimits::new(limits),
            sagemaker: FakeMlService::default(),
            personalize: FakeMlService::default(),
            clock: FakeClock::default(),
            executions: FakeExecutions::default(),
            callbacks: FakeTaskCallbacks::default(),
            settings: RunnerSettings {
                results_bucket: "results".into(),
                poll_seconds: 2,
                max_poll_seconds: 60,
                lease_seconds: 60,
                phase_timeout_seconds: 3600,
                max_attempts: 3,
                relaunch_base_seconds: 1,
                sweep_lookback_hours: 24,
                quota_wait_attempts: 10,
                quota_wake_up_timeout_seconds: 60,
            },
        }
    }
}

impl RunnerPorts for FakeRunnerPorts {
    type Jobs = FakeJobStore;
    type Slots = FakeSlots;
    type Limits = FakeLimits;
    type SageMaker = FakeMlService;
    type Personalize = FakeMlService;
    type Clock = FakeClock;
    type Executions = FakeExecutions;
    type Callbacks = FakeTaskCallbacks;

    fn jobs(&self) -> &FakeJobStore {
        &self.jobs
    }

    fn slots(&self) -> &FakeSlots {
        &self.slots
    }

    fn limits(&self) -> &FakeLimits {
        &self.limits
    }

    fn sagemaker(&self) -> &FakeMlService {
        &self.sagemaker
    }

    fn personalize(&self) -> &FakeMlService {
        &self.personalize
    }

    fn clock(&self) -> &FakeClock {
        &self.clock
    }

    fn executions(&self) -> &FakeExecutions {
        &self.executions
    }

    fn callbacks(&self) -> &FakeTaskCallbacks {
        &self.callbacks
    }

    fn settings(&self) -> &RunnerSettings {
        &self.settings
    }
}

/// A prepared job of this backend ("container" or "personalize"), as Prepare leaves it.
pub async fn prepared_job(ports: &FakeRunnerPorts, id: &str, backend: &str) -> JobId {
    let job_id = ports.jobs.insert_queued(id, test_form(backend));
    ports.jobs.force_status(&job_id, JobStatus::Preparing);
    let prepared = Prepared {
        files: vec![
            PreparedFile {
                field: "dataset.interactions".into(),
                uri: "s3://data/i.csv".into(),
                bytes: 100,
                columns: vec!["USER_ID".into(), "ITEM_ID".into(), "TIMESTAMP".into()],
            },
            PreparedFile {
                field: "dataset.users".into(),
                uri: "s3://data/u.csv".into(),
                bytes: 100,
                columns: vec!["USER_ID".into(), "GENDER".into()],
            },
        ],
        scoring_input: format!("s3://results/jobs/{id}/input/users/"),
        users_to_score: 2,
        scoring_parts: 1,
        scoring_groups: 1,
    };
    ports
        .jobs
        .patch(&job_id, JobPatch::Prepared(prepared), None)
        .await
        .unwrap();
    job_id
}

/// The pool of the test form's training jobs.
pub fn training_pool() -> Pool {
    Pool::SageMakerTraining {
        instance_type: "ml.m5.large".into(),
    }
}

/// `AcquireQuota`'s answer: whether the phase holds its slot, and the detail.
pub fn slot_answer(output: &RunnerOutput) -> (bool, &str) {
    match output {
        RunnerOutput::Slot { taken, detail, .. } => (*taken, detail.as_str()),
        other => panic!("not an AcquireQuota answer: {other:?}"),
    }
}

/// Sets when the job was submitted (the queue's order within a priority).
pub fn submitted_at(ports: &FakeRunnerPorts, job_id: &JobId, at: &str) {
    let mut records = ports.jobs.records.lock().unwrap();
    records.get_mut(job_id).expect("the job exists").created_at = at.to_owned();
}
