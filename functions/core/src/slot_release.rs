//! Giving a job's quota slots back: what cancel and clean-up share.

use crate::errors::ServiceError;
use crate::job::JobRecord;
use crate::personalize_datasets::SchemaGeneration;
use crate::phase::Phase;
use crate::ports::SlotStore;
use crate::quota::{Pool, SlotHolder};

/// Every holder the job may be in its pools: one per phase of its plan, and its hold on its
/// Personalize datasets. Their leases do not matter: a holder is known by its id.
pub fn job_holders(record: &JobRecord) -> Vec<(Pool, SlotHolder)> {
    let Some(form) = &record.form else {
        return Vec::new();
    };
    let job_id = &record.job_id;
    let mut holders: Vec<(Pool, SlotHolder)> = Phase::plan(form.backend)
        .iter()
        .filter_map(|&phase| {
            let (pool, units) = Pool::for_phase(form, phase)?;
            Some((pool, SlotHolder::new(job_id, phase, units, 0, 0)))
        })
        .collect();
    // Only a prepared job can hold datasets (their names come from its files' columns).
    let generation = record
        .prepared
        .as_ref()
        .and_then(|prepared| SchemaGeneration::of_job(form, prepared));
    if let Some(generation) = generation {
        holders.push((generation.datasets_pool(), SlotHolder::datasets(job_id, 0, 0)));
    }
    holders
}

/// Gives back every slot the job may hold and its hold on its Personalize datasets, and takes
/// it out of every queue it waits in (a cancelled job must not be handed a slot). Answers the
/// pools whose units it gave back. Repeating it is harmless: a release removes only this job's
/// holder of each pool.
pub async fn release_job_slots<S: SlotStore + ?Sized>(
    slots: &S,
    record: &JobRecord,
) -> Result<Vec<Pool>, ServiceError> {
    let mut released = Vec::new();
    for (pool, holder) in job_holders(record) {
        slots.leave(&pool, &holder.id()).await?;
        if slots.release(&pool, &holder).await? {
            released.push(pool);
        }
    }
    Ok(released)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeJobStore, FakeSlots};
    use crate::job::{Prepared, PreparedFile};

    #[tokio::test]
    async fn a_personalize_job_s_slots_and_its_hold_on_datasets_are_given_back_once() {
        let jobs = FakeJobStore::default();
        let job_id = jobs.insert_queued("spring-1", test_form("personalize"));
        let mut record = jobs.record(&job_id).unwrap();
        record.prepared = Some(Prepared {
            files: vec![PreparedFile {
                field: "dataset.interactions".into(),
                uri: "s3://data/i.csv".into(),
                bytes: 10,
                columns: vec!["USER_ID".into(), "ITEM_ID".into(), "TIMESTAMP".into()],
            }],
            scoring_input: "s3://results/jobs/spring-1/input/users/".into(),
            users_to_score: 1,
            scoring_parts: 1,
            scoring_groups: 1,
        });
        let slots = FakeSlots::default();
        let datasets =
            SchemaGeneration::of_job(record.form.as_ref().unwrap(), record.prepared.as_ref().unwrap())
                .unwrap()
                .datasets_pool();
        slots.insert(
            &Pool::PersonalizeImports,
            SlotHolder::new(&job_id, Phase::Import, 2, 0, 60),
        );
        slots.insert(&datasets, SlotHolder::datasets(&job_id, 0, 60));
        // And it waits for its training's slot.
        let waiter = crate::quota_queue::Waiter {
            holder: SlotHolder::new(&job_id, Phase::Train, 1, 0, 0),
            priority: Default::default(),
            submitted_at: record.created_at.clone(),
            token: "token".into(),
            parked_at: 0,
        };
        slots
            .enqueue(&Pool::PersonalizeSolutionVersions, &waiter)
            .await
            .unwrap();

        let released = release_job_slots(&slots, &record).await.unwrap();
        assert_eq!(released, [Pool::PersonalizeImports, datasets.clone()]);
        assert_eq!(slots.state(&datasets).used, 0);
        assert!(
            slots.state(&Pool::PersonalizeSolutionVersions).waiting.is_empty(),
            "out of the queue it waited in"
        );
        assert!(release_job_slots(&slots, &record).await.unwrap().is_empty());
    }
}
