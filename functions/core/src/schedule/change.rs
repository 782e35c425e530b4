//! Pausing, resuming and deleting a schedule: the record first (one conditional write on its
//! revision), then its Scheduler schedule made to agree. Asking again for the state a schedule
//! is in writes nothing to the record but makes the Scheduler agree once more, so a call whose
//! Scheduler step failed is finished by its retry.

use jiff::{SignedDuration, Timestamp};
use tracing::info;

use super::create::scheduler_schedule;
use super::ports::{ScheduleStore, Scheduler, SchedulerWrite};
use super::record::{ScheduleId, ScheduleRecord, ScheduleState, StateChange};
use crate::errors::ServiceError;

/// How long a deleted schedule's record stays (its queued jobs still start in turn meanwhile).
const DELETED_RECORD_KEPT: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Conditional writes before giving up (firings write the record too).
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum ChangeError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("schedule {0}: other writers kept changing its record; try again")]
    Contended(ScheduleId),
}

/// Puts the schedule in `to` (`by`: who asked). `None`: no such schedule (a deleted one
/// exists only for `to: Deleted`, which is answered again).
pub async fn change_state<S: ScheduleStore, C: Scheduler>(
    schedules: &S,
    scheduler: &C,
    id: &ScheduleId,
    to: ScheduleState,
    by: &str,
    now: Timestamp,
) -> Result<Option<ScheduleRecord>, ChangeError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(mut record) = schedules.get(id).await? else {
            return Ok(None);
        };
        if record.state == ScheduleState::Deleted && to != ScheduleState::Deleted {
            return Ok(None);
        }
        if record.state != to {
            let read_revision = record.revision;
            apply(&mut record, to, by, now);
            if !schedules.replace(&record, read_revision).await? {
                continue;
            }
            info!(schedule_id = %id, state = %to, %by, "schedule state changed");
        }
        agree(scheduler, &record).await?;
        return Ok(Some(record));
    }
    Err(ChangeError::Contended(id.clone()))
}

fn apply(record: &mut ScheduleRecord, to: ScheduleState, by: &str, now: Timestamp) {
    let at = super::utc_text(now);
    record.state = to;
    match to {
        // A rate without a start begins again from now, as the Scheduler does when enabled.
        ScheduleState::Enabled => record.anchor = at.clone(),
        ScheduleState::Paused => {}
        ScheduleState::Deleted => {
            record.listing = None;
            record.expires_at = Some((now + DELETED_RECORD_KEPT).as_second());
        }
    }
    record.changes.push(StateChange {
        state: to,
        by: by.to_owned(),
        at: at.clone(),
    });
    record.revision += 1;
    record.updated_at = at;
}

/// Makes the Scheduler schedule what the record says: deleted, or enabled/disabled (made anew
/// if it is missing, e.g. its creation failed).
async fn agree<C: Scheduler>(scheduler: &C, record: &ScheduleRecord) -> Result<(), ServiceError> {
    if record.state == ScheduleState::Deleted {
        scheduler.delete(record.schedule_id.as_str()).await?;
        return Ok(());
    }
    let schedule = scheduler_schedule(record);
    if scheduler.update(&schedule).await? == SchedulerWrite::NotFound {
        scheduler.create(&schedule).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeScheduleStore, FakeScheduler};
    use crate::job::JobSource;
    use crate::schedule::create::create_schedule;
    use crate::schedule::{Overlap, ScheduleSettings};

    async fn made(store: &FakeScheduleStore, scheduler: &FakeScheduler) -> ScheduleId {
        let mut form = test_form("personalize");
        form.schedule = Some(ScheduleSettings {
            expression: "rate(1 hour)".into(),
            timezone: "UTC".into(),
            start: None,
            end: None,
            overlap: Overlap::Skip,
        });
        let id = ScheduleId::parse("spring-1").unwrap();
        let record = ScheduleRecord::new(
            id.clone(),
            form,
            "d".into(),
            JobSource::Api {
                idempotency_key: None,
            },
            "2026-12-01T00:00:00Z",
        );
        create_schedule(store, scheduler, &record, now()).await.unwrap();
        id
    }

    fn now() -> Timestamp {
        "2026-12-01T00:00:00Z".parse().unwrap()
    }

    #[tokio::test]
    async fn pause_and_resume_disable_and_enable_the_scheduler_schedule() {
        let (store, scheduler) = (FakeScheduleStore::default(), FakeScheduler::default());
        let id = made(&store, &scheduler).await;
        let later: Timestamp = "2026-12-01T05:30:00Z".parse().unwrap();
        let paused = change_state(&store, &scheduler, &id, ScheduleState::Paused, "ana", later)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(paused.state, ScheduleState::Paused);
        assert!(paused.next_runs(later).is_empty());
        assert!(!scheduler.schedule("spring-1").unwrap().enabled);
        let resumed = change_state(&store, &scheduler, &id, ScheduleState::Enabled, "ana", later)
            .await
            .unwrap()
            .unwrap();
        assert!(scheduler.schedule("spring-1").unwrap().enabled);
        // The rate counts from the resume.
        assert_eq!(resumed.next_runs(later)[0].utc, "2026-12-01T05:30:00Z");
        assert_eq!(resumed.changes.len(), 2);
    }

    #[tokio::test]
    async fn a_scheduler_failure_is_finished_by_asking_again() {
        let (store, scheduler) = (FakeScheduleStore::default(), FakeScheduler::default());
        let id = made(&store, &scheduler).await;
        *scheduler.failing.lock().unwrap() = 1;
        assert!(
            change_state(&store, &scheduler, &id, ScheduleState::Paused, "ana", now())
                .await
                .is_err()
        );
        assert_eq!(store.record("spring-1").unwrap().state, ScheduleState::Paused);
        assert!(
            scheduler.schedule("spring-1").unwrap().enabled,
            "the Scheduler did not hear it yet"
        );
        change_state(&store, &scheduler, &id, ScheduleState::Paused, "ana", now())
            .await
            .unwrap();
        assert!(!scheduler.schedule("spring-1").unwrap().enabled);
    }

    #[tokio::test]
    async fn a_deleted_schedule_is_gone_but_its_record_stays_a_while() {
        let (store, scheduler) = (FakeScheduleStore::default(), FakeScheduler::default());
        let id = made(&store, &scheduler).await;
        let deleted = change_state(&store, &scheduler, &id, ScheduleState::Deleted, "ana", now())
            .await
            .unwrap()
            .unwrap();
        assert!(scheduler.schedule("spring-1").is_none());
        assert_eq!(deleted.listing, None);
        assert!(deleted.expires_at.is_some());
        let resumed = change_state(&store, &scheduler, &id, ScheduleState::Enabled, "ana", now())
            .await
            .unwrap();
        assert!(resumed.is_none(), "a deleted schedule cannot be resumed");
        let unknown = ScheduleId::parse("nope").unwrap();
        let missing = change_state(&store, &scheduler, &unknown, ScheduleState::Paused, "ana", now()).await;
        assert!(missing.unwrap().is_none());
    }
}
