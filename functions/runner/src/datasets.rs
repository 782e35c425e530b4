//! A Personalize job's hold on its dataset group's datasets (`Pool::PersonalizeDatasets`, one
//! unit): taken with the import phase's slot, renewed at every acquire and look until its
//! training ends, given back by the training's `ReleaseQuota` (or by clean-up and cancel,
//! through `release_job_slots`). An import replaces the datasets' data and training reads it,
//! so while one job holds them the next job of the result set (same columns, so the same
//! dataset group) waits for them as for quota: in the datasets' queue, handed them when they
//! are given back.

use recoflow_core::clock::Clock;
use recoflow_core::form::{Backend, JobForm};
use recoflow_core::job::JobRecord;
use recoflow_core::personalize_datasets::{holds_datasets, SchemaGeneration};
use recoflow_core::phase::Phase;
use recoflow_core::ports::{Acquired, SlotStore};
use recoflow_core::quota::{PoolState, SlotHolder, DATASETS_CAPACITY};
use recoflow_core::task::TaskToken;
use tracing::{info, warn};

use crate::error::RunnerError;
use crate::hand_over::serve_queue;
use crate::ports::RunnerPorts;
use crate::step::pool_without_expired;
use crate::turn::{take_turn, Turn};

/// The datasets this phase of the job holds; `None` when it holds none (the container
/// backend, the score phase).
pub fn held_in(
    record: &JobRecord,
    form: &JobForm,
    phase: Phase,
) -> Result<Option<SchemaGeneration>, RunnerError> {
    if form.backend != Backend::Personalize || !holds_datasets(phase) {
        return Ok(None);
    }
    let Some(prepared) = &record.prepared else {
        return Err(RunnerError::Configuration("the job was not prepared".into()));
    };
    Ok(SchemaGeneration::of_job(form, prepared))
}

/// What a phase that holds datasets asks first (`AcquireQuota`, `WaitForQuota`): the import
/// takes them in turn, the training keeps them. Answers what the job waits for, if it waits.
pub async fn take_or_keep<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    phase: Phase,
    token: Option<&TaskToken>,
) -> Result<Option<String>, RunnerError> {
    match held_in(record, form, phase)? {
        None => Ok(None),
        Some(generation) if phase == Phase::Import => take(ports, record, &generation, token).await,
        Some(generation) => keep(ports, record, &generation).await.map(|()| None),
    }
}

async fn take<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    generation: &SchemaGeneration,
    token: Option<&TaskToken>,
) -> Result<Option<String>, RunnerError> {
    let pool = generation.datasets_pool();
    let hold = SlotHolder::datasets(
        &record.job_id,
        ports.clock().unix_now(),
        ports.settings().lease_seconds,
    );
    match take_turn(ports, record, &pool, &hold, token).await? {
        Turn::Holds => {
            info!(dataset_group = %generation.dataset_group(), "datasets held");
            Ok(None)
        }
        Turn::Waits(waiting) => {
            info!(dataset_group = %generation.dataset_group(), position = waiting.position, "datasets held by another job; waiting");
            Ok(Some(format!(
                "waiting for the Personalize datasets of result set {} (dataset group {}): {} until its training ends; place {} in their queue",
                generation.result_set(),
                generation.dataset_group(),
                holder_of(&waiting.state),
                waiting.position
            )))
        }
    }
}

/// Renews the job's hold; a hold that lapsed (no look for longer than the lease) is taken back
/// if nobody took it meanwhile, and fails the job if another job did, since that job's import
/// may have replaced the data this one trains on.
pub async fn keep<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    generation: &SchemaGeneration,
) -> Result<(), RunnerError> {
    let pool = generation.datasets_pool();
    let now = ports.clock().unix_now();
    let hold = SlotHolder::datasets(&record.job_id, now, ports.settings().lease_seconds);
    if ports.slots().renew(&pool, &hold).await? {
        return Ok(());
    }
    // A lapsed hold is the job's to take back whoever waits: it is half-way through them.
    pool_without_expired(ports.slots(), &pool, now).await?;
    match ports.slots().acquire(&pool, &hold, DATASETS_CAPACITY).await? {
        Acquired::AlreadyHeld => Ok(()),
        Acquired::Taken => {
            warn!(dataset_group = %generation.dataset_group(), "the hold on the datasets had lapsed; taken back");
            Ok(())
        }
        Acquired::Full(held) => Err(RunnerError::DatasetsLost(format!(
            "this job's hold on the Personalize datasets of dataset group {} lapsed and {} since: its import may have been replaced; run the job again",
            generation.dataset_group(),
            holder_of(&held)
        ))),
    }
}

/// `ReleaseQuota` of the training: gives the datasets back (the score phase does not read
/// them). Answers the dataset group released, if the job held it.
pub async fn give_back<P: RunnerPorts>(
    ports: &P,
    record: &JobRecord,
    form: &JobForm,
    phase: Phase,
) -> Result<Option<String>, RunnerError> {
    if phase != Phase::Train {
        return Ok(None);
    }
    let Some(generation) = held_in(record, form, phase)? else {
        return Ok(None);
    };
    let hold = SlotHolder::datasets(&record.job_id, 0, 0);
    let pool = generation.datasets_pool();
    let released = ports.slots().release(&pool, &hold).await?;
    serve_queue(ports, &pool).await;
    Ok(released.then(|| generation.dataset_group()))
}

/// Who holds the datasets, as the waiting job's history says it.
fn holder_of(held: &PoolState) -> String {
    match held.holders.first() {
        Some(holder) => format!("job {} holds them", holder.job_id),
        None => "another job holds them".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::errors::{ErrorName, NamedError};
    use recoflow_core::job::{JobId, JobStatus};
    use recoflow_core::phase::ResourceState;
    use recoflow_core::quota::Pool;

    use super::*;
    use crate::acquire::acquire;
    use crate::advance::advance;
    use crate::cleanup::cleanup;
    use crate::fake::{prepared_job, slot_answer, FakeRunnerPorts, LIMITS};
    use crate::release::release;
    use crate::wait_for_quota::wait_for_quota;

    /// The pool of the test jobs' datasets (their files have the same columns).
    fn datasets_pool(ports: &FakeRunnerPorts, job_id: &JobId) -> Pool {
        let record = ports.jobs.record(job_id).unwrap();
        held_in(&record, record.form.as_ref().unwrap(), Phase::Import)
            .unwrap()
            .unwrap()
            .datasets_pool()
    }

    fn holder_ids(ports: &FakeRunnerPorts, pool: &Pool) -> Vec<String> {
        ports
            .slots
            .state(pool)
            .holders
            .iter()
            .map(SlotHolder::id)
            .collect()
    }

    /// Two jobs of result set `spring` with the same columns; the first (`spring-1`) has taken
    /// its import's slot and the datasets.
    async fn first_holding(ports: &FakeRunnerPorts) -> (JobId, JobId) {
        let first = prepared_job(ports, "spring-1", "personalize").await;
        let second = prepared_job(ports, "spring-2", "personalize").await;
        acquire(ports, &first, Phase::Import).await.unwrap();
        (first, second)
    }

    /// Waits as for quota: the answer, the job shown waiting once, the detail in its history.
    async fn assert_waits_for_datasets(ports: &FakeRunnerPorts, job_id: &JobId, holder: &str) {
        let answer = acquire(ports, job_id, Phase::Import).await.unwrap();
        let (taken, detail) = slot_answer(&answer);
        assert!(!taken, "{detail}");
        assert!(
            detail.contains("datasets of result set spring")
                && detail.contains(&format!("job {holder} holds them")),
            "{detail}"
        );
        let record = ports.jobs.record(job_id).unwrap();
        assert_eq!(record.status, JobStatus::WaitingForQuota);
        let waits: Vec<&str> = record
            .history
            .iter()
            .filter(|change| change.status == JobStatus::WaitingForQuota)
            .map(|change| change.detail.as_str())
            .collect();
        assert_eq!(waits, [detail], "shown once, with what it waits for");
    }

    #[tokio::test]
    async fn the_next_job_of_a_result_set_waits_for_its_datasets_until_the_first_one_s_training_ends() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let (first, second) = first_holding(&ports).await;
        let pool = datasets_pool(&ports, &first);
        assert_eq!(holder_ids(&ports, &pool), ["spring-1#datasets"]);

        assert_waits_for_datasets(&ports, &second, "spring-1").await;
        assert_waits_for_datasets(&ports, &second, "spring-1").await;
        assert_eq!(
            ports.slots.state(&Pool::PersonalizeImports).used,
            2,
            "a job waiting for the datasets takes no import slot"
        );

        // Through the first job's import and training, the second waits.
        release(&ports, &first, Phase::Import).await.unwrap();
        acquire(&ports, &first, Phase::Train).await.unwrap();
        assert_waits_for_datasets(&ports, &second, "spring-1").await;
        let released = release(&ports, &first, Phase::Train).await.unwrap();
        assert!(
            format!("{released:?}").contains("datasets of rf-spring-g"),
            "{released:?}"
        );

        acquire(&ports, &second, Phase::Import).await.unwrap();
        assert_eq!(ports.jobs.record(&second).unwrap().status, JobStatus::Importing);
        assert_eq!(holder_ids(&ports, &pool), ["spring-2#datasets"]);
    }

    #[tokio::test]
    async fn a_job_waiting_in_the_datasets_queue_is_handed_them_when_the_training_ends() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let (first, second) = first_holding(&ports).await;
        assert_waits_for_datasets(&ports, &second, "spring-1").await;
        let token = TaskToken("token-spring-2".into());
        wait_for_quota(&ports, &second, Phase::Import, &token)
            .await
            .unwrap();
        let pool = datasets_pool(&ports, &first);
        assert_eq!(ports.slots.state(&pool).waiting.len(), 1);

        release(&ports, &first, Phase::Import).await.unwrap();
        acquire(&ports, &first, Phase::Train).await.unwrap();
        assert!(
            ports.callbacks.take_delivered().is_empty(),
            "the training keeps them"
        );
        release(&ports, &first, Phase::Train).await.unwrap();
        assert_eq!(
            holder_ids(&ports, &pool),
            ["spring-2#datasets"],
            "taken on its behalf"
        );
        assert_eq!(ports.callbacks.take_delivered(), [token.0]);

        // Woken, it asks again: the datasets are its, then the import slot.
        assert!(slot_answer(&acquire(&ports, &second, Phase::Import).await.unwrap()).0);
        assert_eq!(ports.jobs.record(&second).unwrap().status, JobStatus::Importing);
    }

    #[tokio::test]
    async fn looks_at_the_import_and_training_keep_the_hold() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let (first, second) = first_holding(&ports).await;
        // Looks every 40 s renew a lease of 60 s: the hold never lapses.
        for _ in 0..4 {
            ports.clock.advance(Duration::from_secs(40));
            advance(&ports, &first, Phase::Import).await.unwrap();
        }
        assert_waits_for_datasets(&ports, &second, "spring-1").await;
    }

    #[tokio::test]
    async fn a_hold_left_by_an_execution_that_died_is_reclaimed_once_its_lease_expires() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let (dead, next) = first_holding(&ports).await;
        assert_waits_for_datasets(&ports, &next, "spring-1").await;

        ports.clock.advance(Duration::from_secs(120));
        acquire(&ports, &next, Phase::Import).await.unwrap();
        assert_eq!(
            holder_ids(&ports, &datasets_pool(&ports, &next)),
            ["spring-2#datasets"]
        );

        // The first job's next look finds its datasets taken: its import may be undone.
        let err = advance(&ports, &dead, Phase::Import).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::ImportFailed);
        assert!(err.to_string().contains("job spring-2 holds them"), "{err}");
    }

    #[tokio::test]
    async fn a_lapsed_hold_nobody_took_is_taken_back() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let job_id = prepared_job(&ports, "spring-1", "personalize").await;
        acquire(&ports, &job_id, Phase::Import).await.unwrap();
        let pool = datasets_pool(&ports, &job_id);
        ports
            .slots
            .reclaim(&pool, &ports.slots.state(&pool).holders[0])
            .await
            .unwrap();
        advance(&ports, &job_id, Phase::Import).await.unwrap();
        assert_eq!(holder_ids(&ports, &pool), ["spring-1#datasets"]);
    }

    #[tokio::test]
    async fn jobs_whose_files_have_other_columns_use_other_datasets_and_do_not_wait() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let first = prepared_job(&ports, "spring-1", "personalize").await;
        let other = prepared_job(&ports, "spring-2", "personalize").await;
        {
            let mut records = ports.jobs.records.lock().unwrap();
            let prepared = records.get_mut(&other).unwrap().prepared.as_mut().unwrap();
            prepared.files[1].columns.push("AGE".into());
        }
        acquire(&ports, &first, Phase::Import).await.unwrap();
        acquire(&ports, &other, Phase::Import).await.unwrap();
        assert_ne!(datasets_pool(&ports, &first), datasets_pool(&ports, &other));

        // Each imports into datasets of its own group.
        for job_id in [&first, &other] {
            for _ in 0..2 {
                advance(&ports, job_id, Phase::Import).await.unwrap();
            }
        }
        let groups: std::collections::BTreeSet<String> = ports
            .personalize
            .names()
            .into_iter()
            .filter(|name| {
                ports.personalize.spec(name).unwrap().kind()
                    == recoflow_core::phase::ResourceKind::DatasetGroup
            })
            .collect();
        assert_eq!(groups.len(), 2, "{groups:?}");
    }

    #[tokio::test]
    async fn clean_up_gives_the_datasets_back() {
        let ports = FakeRunnerPorts::new(LIMITS);
        let (failed, next) = first_holding(&ports).await;
        advance(&ports, &failed, Phase::Import).await.unwrap();
        for name in ports.personalize.names() {
            ports
                .personalize
                .set_state(&name, ResourceState::Succeeded, None, false);
        }
        cleanup(&ports, &failed, None).await.unwrap();
        acquire(&ports, &next, Phase::Import).await.unwrap();
        assert_eq!(
            holder_ids(&ports, &datasets_pool(&ports, &next)),
            ["spring-2#datasets"]
        );
    }
}
