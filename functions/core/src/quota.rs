//! Quota rules: which pool a phase draws from, how many units it takes, what an operator's
//! limits say, and how much of a pool is free once jobs started outside recoflow are counted.
//!
//! A pool is a counting semaphore kept in DynamoDB (see `ports::SlotStore`). A holder is one
//! phase of one job (`<job id>#<phase>`), so a retried acquire never takes a second slot and a
//! repeated release never frees another job's. Every holder has a lease that the job renews
//! while it polls; a holder whose execution died without releasing is reclaimed once its lease
//! has expired.
//!
//! A result set's Personalize datasets are kept in the same table as a pool of one unit per
//! dataset group (`Pool::PersonalizeDatasets`): one job at a time imports into them and trains
//! on them, holding them (`<job id>#datasets`, leased and renewed like a slot) from its import
//! until its training ends.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::form::{Backend, JobForm, Output};
use crate::job::JobId;
use crate::phase::{job_phase_prefix, Phase};
use crate::quota_queue::Waiter;

/// A quota pool: one service limit recoflow shares between its jobs.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Pool {
    /// SageMaker training instances of one type (the account's "<type> for training job usage").
    SageMakerTraining { instance_type: String },
    /// SageMaker processing instances of one type.
    SageMakerProcessing { instance_type: String },
    /// Concurrent Personalize dataset import jobs.
    PersonalizeImports,
    /// Concurrent Personalize solution version trainings.
    PersonalizeSolutionVersions,
    /// Concurrent Personalize batch inference jobs.
    PersonalizeBatchInference,
    /// Concurrent Personalize batch segment jobs (audiences).
    PersonalizeBatchSegments,
    /// The Personalize datasets of one dataset group: imports replace their data (`FULL`) and
    /// training reads it, so one job at a time holds them ([`DATASETS_CAPACITY`]).
    PersonalizeDatasets { dataset_group: String },
}

/// Jobs that may hold a dataset group's datasets at once: one.
pub const DATASETS_CAPACITY: u32 = 1;

impl Pool {
    /// The pool's key in the quota table and in the limits document.
    pub fn key(&self) -> String {
        match self {
            Pool::SageMakerTraining { instance_type } => format!("sagemaker-training:{instance_type}"),
            Pool::SageMakerProcessing { instance_type } => format!("sagemaker-processing:{instance_type}"),
            Pool::PersonalizeImports => "personalize-dataset-imports".to_owned(),
            Pool::PersonalizeSolutionVersions => "personalize-solution-versions".to_owned(),
            Pool::PersonalizeBatchInference => "personalize-batch-inference".to_owned(),
            Pool::PersonalizeBatchSegments => "personalize-batch-segment".to_owned(),
            Pool::PersonalizeDatasets { dataset_group } => format!("personalize-datasets:{dataset_group}"),
        }
    }

    /// The backend whose service runs the jobs that count against the pool; `None` for a
    /// dataset group's datasets, which only recoflow's own jobs hold.
    pub fn service_backend(&self) -> Option<Backend> {
        match self {
            Pool::SageMakerTraining { .. } | Pool::SageMakerProcessing { .. } => Some(Backend::Container),
            Pool::PersonalizeDatasets { .. } => None,
            Pool::PersonalizeImports
            | Pool::PersonalizeSolutionVersions
            | Pool::PersonalizeBatchInference
            | Pool::PersonalizeBatchSegments => Some(Backend::Personalize),
        }
    }

    /// Key of the default for every instance type (`sagemaker-training:*`), if any.
    fn wildcard_key(&self) -> Option<&'static str> {
        match self {
            Pool::SageMakerTraining { .. } => Some("sagemaker-training:*"),
            Pool::SageMakerProcessing { .. } => Some("sagemaker-processing:*"),
            _ => None,
        }
    }

    /// The pool a phase of this form draws from and how many units it takes.
    pub fn for_phase(form: &JobForm, phase: Phase) -> Option<(Pool, u32)> {
        match (form.backend, phase) {
            (Backend::Container, Phase::Train) => {
                let container = form.container.as_ref()?;
                Some((
                    Pool::SageMakerTraining {
                        instance_type: container.instance_type.clone(),
                    },
                    container.instance_count.max(1),
                ))
            }
            (Backend::Container, Phase::Score) => {
                let container = form.container.as_ref()?;
                Some((
                    Pool::SageMakerProcessing {
                        instance_type: container.instance_type.clone(),
                    },
                    crate::scoring_parts::scoring_instances(form),
                ))
            }
            (Backend::Container, Phase::Import) => None,
            // One import job per data file, all running at once.
            (Backend::Personalize, Phase::Import) => {
                Some((Pool::PersonalizeImports, form.dataset.files().len() as u32))
            }
            (Backend::Personalize, Phase::Train) => Some((Pool::PersonalizeSolutionVersions, 1)),
            (Backend::Personalize, Phase::Score) if form.output == Output::Audience => {
                Some((Pool::PersonalizeBatchSegments, 1))
            }
            (Backend::Personalize, Phase::Score) => Some((Pool::PersonalizeBatchInference, 1)),
        }
    }
}

impl fmt::Display for Pool {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

/// The limits an operator set: pool key (or `sagemaker-training:*`-style default) → units.
/// Read from the SSM parameter named by the stack output `QuotaLimitsParameter`, as JSON,
/// e.g. `{"sagemaker-training:*": 2, "sagemaker-training:ml.p3.2xlarge": 1}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct QuotaLimits(pub BTreeMap<String, u32>);

impl QuotaLimits {
    /// Parses the limits document; the error names what is wrong.
    pub fn parse(json: &str) -> Result<Self, String> {
        let limits: Self = serde_json::from_str(json).map_err(|e| {
            format!("the quota limits are not a JSON object of pool name to a whole number: {e}")
        })?;
        if let Some((key, _)) = limits.0.iter().find(|(_, v)| **v == 0) {
            return Err(format!(
                "the quota limit for {key} is 0: no job could ever run; remove the entry or raise it"
            ));
        }
        Ok(limits)
    }

    /// The pool's limit: its own entry, else its kind's `*` entry.
    pub fn limit_for(&self, pool: &Pool) -> Option<u32> {
        self.0
            .get(&pool.key())
            .or_else(|| pool.wildcard_key().and_then(|k| self.0.get(k)))
            .copied()
    }
}

/// What a holder holds its units for.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Holding {
    /// The service jobs of its phase.
    #[default]
    PhaseJobs,
    /// The Personalize datasets of a dataset group (`Pool::PersonalizeDatasets`).
    Datasets,
}

/// One holder of units of a pool, as kept in the quota table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlotHolder {
    pub job_id: JobId,
    /// The phase that took the units (a datasets holder: the import).
    pub phase: Phase,
    pub units: u32,
    /// Unix seconds after which the holder may be reclaimed.
    pub expires_at: i64,
    /// Names of this holder's service jobs start with this (see `phase::job_resource_name`).
    pub resource_prefix: String,
    /// Holders written before datasets were held are phase holders.
    #[serde(default)]
    pub holds: Holding,
}

impl SlotHolder {
    pub fn new(job_id: &JobId, phase: Phase, units: u32, now: i64, lease_seconds: u32) -> Self {
        Self {
            job_id: job_id.clone(),
            phase,
            units,
            expires_at: now + i64::from(lease_seconds),
            resource_prefix: job_phase_prefix(job_id, phase),
            holds: Holding::PhaseJobs,
        }
    }

    /// The job's hold on a dataset group's datasets (taken with its import phase's slot).
    pub fn datasets(job_id: &JobId, now: i64, lease_seconds: u32) -> Self {
        Self {
            holds: Holding::Datasets,
            ..Self::new(job_id, Phase::Import, DATASETS_CAPACITY, now, lease_seconds)
        }
    }

    /// The holder's key in the pool: one per job and phase (`<job id>#<phase>`), or the job's
    /// hold on datasets (`<job id>#datasets`).
    pub fn id(&self) -> String {
        match self.holds {
            Holding::PhaseJobs => holder_id(&self.job_id, self.phase),
            Holding::Datasets => format!("{}#datasets", self.job_id),
        }
    }

    pub fn is_expired(&self, now: i64) -> bool {
        self.expires_at < now
    }
}

pub fn holder_id(job_id: &JobId, phase: Phase) -> String {
    format!("{job_id}#{phase}")
}

/// A pool as last read: units held by recoflow's jobs, who holds them, and who waits for them
/// (see `crate::quota_queue`).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PoolState {
    pub used: u32,
    pub holders: Vec<SlotHolder>,
    /// The jobs waiting for a slot, in the order they are served.
    pub waiting: Vec<Waiter>,
    /// Bumped by every change to `waiting`: a take conditional on it knows nobody joined the
    /// queue ahead of it since it looked.
    pub queue_revision: u64,
}

impl PoolState {
    pub fn holder(&self, id: &str) -> Option<&SlotHolder> {
        self.holders.iter().find(|h| h.id() == id)
    }

    /// Names of the service jobs the pool's holders launched start with one of these.
    pub fn holder_prefixes(&self) -> Vec<String> {
        self.holders.iter().map(|h| h.resource_prefix.clone()).collect()
    }
}

/// A job seen running on the service, with the units it takes from a pool.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceJob {
    pub name: String,
    pub units: u32,
}

/// Whether a service job's name starts with one of these prefixes (a holder's jobs).
pub fn has_prefix(name: &str, prefixes: &[String]) -> bool {
    prefixes.iter().any(|p| name.starts_with(p.as_str()))
}

/// Units of a pool in use by jobs recoflow's holders did not launch (other tools, people,
/// another deployment): live reconciliation against the service's own list.
pub fn external_units(pool: &PoolState, running: &[ServiceJob]) -> u32 {
    let prefixes = pool.holder_prefixes();
    running
        .iter()
        .filter(|job| !has_prefix(&job.name, &prefixes))
        .map(|job| job.units)
        .sum()
}

/// How many units recoflow's holders may hold in all: the limit minus what others use.
pub fn capacity(limit: u32, external: u32) -> u32 {
    limit.saturating_sub(external)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::validation::{validate_form, ValidationRules};

    fn container_form(instance_count: u32) -> JobForm {
        let form = serde_json::json!({
            "schema_version": 1, "job_name": "weekly", "submitted_by": "a@b.co", "result_set": "weekly",
            "backend": "container",
            "dataset": {"interactions": "s3://data/i.csv", "users": "s3://data/u.csv"},
            "container": {"training_image": "img", "scoring_image": "img",
                          "instance_type": "ml.m5.large", "instance_count": instance_count}
        });
        validate_form(
            form.to_string().as_bytes(),
            &ValidationRules::from_allow_list("data"),
        )
        .unwrap()
    }

    #[test]
    fn phases_draw_from_their_pools() {
        let form = container_form(3);
        let (pool, units) = Pool::for_phase(&form, Phase::Train).unwrap();
        assert_eq!(pool.key(), "sagemaker-training:ml.m5.large");
        assert_eq!(units, 3);
        let (pool, units) = Pool::for_phase(&form, Phase::Score).unwrap();
        assert_eq!(pool.key(), "sagemaker-processing:ml.m5.large");
        assert_eq!(units, 3, "users' lists are scored on every instance");
        assert!(Pool::for_phase(&form, Phase::Import).is_none());
    }

    #[test]
    fn an_audience_scores_in_the_batch_segment_pool() {
        let form = |output: &str, recipe: &str| {
            let mut form = serde_json::json!({
                "schema_version": 1, "job_name": "coats", "submitted_by": "a@b.co", "result_set": "coats",
                "backend": "personalize", "output": output,
                "dataset": {"interactions": "s3://data/i.csv", "users": "s3://data/u.csv"},
                "personalize": {"recipe": recipe}
            });
            if output == "audience" {
                form["audience"] = serde_json::json!({"items": ["i1"]});
            }
            validate_form(
                form.to_string().as_bytes(),
                &ValidationRules::from_allow_list("data"),
            )
            .unwrap()
        };
        let (pool, units) = Pool::for_phase(&form("audience", "aws-item-affinity"), Phase::Score).unwrap();
        assert_eq!((pool.key().as_str(), units), ("personalize-batch-segment", 1));
        let (pool, _) = Pool::for_phase(&form("similar_items", "aws-similar-items"), Phase::Score).unwrap();
        assert_eq!(pool, Pool::PersonalizeBatchInference);
    }

    #[test]
    fn limits_fall_back_to_the_kind_default() {
        let limits =
            QuotaLimits::parse(r#"{"sagemaker-training:*": 2, "sagemaker-training:ml.p3.2xlarge": 1}"#)
                .unwrap();
        let pool = |t: &str| Pool::SageMakerTraining {
            instance_type: t.to_owned(),
        };
        assert_eq!(limits.limit_for(&pool("ml.p3.2xlarge")), Some(1));
        assert_eq!(limits.limit_for(&pool("ml.m5.large")), Some(2));
        assert_eq!(limits.limit_for(&Pool::PersonalizeImports), None);
        assert!(QuotaLimits::parse(r#"{"personalize-dataset-imports": 0}"#)
            .unwrap_err()
            .contains("is 0"));
        assert!(QuotaLimits::parse("[1]").is_err());
    }

    #[test]
    fn jobs_launched_outside_recoflow_reduce_capacity() {
        let job_a = JobId::parse("a-1").unwrap();
        let holder = SlotHolder::new(&job_a, Phase::Train, 1, 1_000, 60);
        let pool = PoolState {
            used: 1,
            holders: vec![holder.clone()],
            ..PoolState::default()
        };
        let ours = crate::phase::job_resource_name(&job_a, Phase::Train, None, 2);
        let running = vec![
            ServiceJob { name: ours, units: 1 },
            ServiceJob {
                name: "someone-elses-job".into(),
                units: 2,
            },
        ];
        assert_eq!(external_units(&pool, &running), 2);
        assert_eq!(capacity(2, 2), 0);
        assert_eq!(capacity(5, 2), 3);
        assert_eq!(capacity(1, 4), 0);
        assert!(!holder.is_expired(1_060));
        assert!(holder.is_expired(1_061));
        assert_eq!(holder.id(), "a-1#train");
    }

    #[test]
    fn a_hold_on_datasets_is_one_unit_of_its_dataset_group_s_pool() {
        let job = JobId::parse("a-1").unwrap();
        let hold = SlotHolder::datasets(&job, 1_000, 60);
        assert_eq!(hold.id(), "a-1#datasets");
        assert_eq!((hold.units, hold.expires_at), (DATASETS_CAPACITY, 1_060));
        let pool = Pool::PersonalizeDatasets {
            dataset_group: "rf-spring-g0123abcd".into(),
        };
        assert_eq!(pool.key(), "personalize-datasets:rf-spring-g0123abcd");
        // Holders stored before the hold existed read back as phase holders.
        let mut stored = serde_json::to_value(SlotHolder::new(&job, Phase::Train, 1, 0, 0)).unwrap();
        stored.as_object_mut().unwrap().remove("holds");
        let read: SlotHolder = serde_json::from_value(stored).unwrap();
        assert_eq!(read.id(), "a-1#train");
    }
}
