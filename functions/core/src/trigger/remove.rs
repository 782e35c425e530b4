//! Deleting a trigger: the record first (one conditional write on its revision: `DELETED`, out
//! of the listing, expiring), then its files unwatched. Asking again unwatches again, so a call
//! whose second step failed is finished by its retry; jobs it started are not touched.

use jiff::{SignedDuration, Timestamp};
use tracing::info;

use super::ports::TriggerStore;
use super::record::{TriggerRecord, TriggerState};
use super::TriggerId;
use crate::errors::ServiceError;

/// How long a deleted trigger's record stays (its jobs name it).
const DELETED_RECORD_KEPT: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Conditional writes before giving up (checks write the record too).
const MAX_ATTEMPTS: u32 = 8;

#[derive(Debug, thiserror::Error)]
pub enum RemoveError {
    #[error(transparent)]
    Service(#[from] ServiceError),
    #[error("trigger {0}: other writers kept changing its record; try again")]
    Contended(TriggerId),
}

/// Deletes the trigger; `None`: there is no such trigger.
pub async fn delete_trigger<S: TriggerStore>(
    triggers: &S,
    id: &TriggerId,
    now: Timestamp,
) -> Result<Option<TriggerRecord>, RemoveError> {
    for _ in 0..MAX_ATTEMPTS {
        let Some(mut record) = triggers.get(id).await? else {
            return Ok(None);
        };
        if record.state != TriggerState::Deleted {
            let read_revision = record.revision;
            record.state = TriggerState::Deleted;
            record.listing = None;
            record.expires_at = Some((now + DELETED_RECORD_KEPT).as_second());
            record.revision += 1;
            record.updated_at = crate::schedule::utc_text(now);
            if !triggers.replace(&record, read_revision).await? {
                continue;
            }
            info!(trigger_id = %id, "trigger deleted");
        }
        triggers.unwatch(id, &record.watched_uris()).await?;
        return Ok(Some(record));
    }
    Err(RemoveError::Contended(id.clone()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeTriggerStore;
    use crate::trigger::create::register_trigger;
    use crate::trigger::create::tests::trigger_record;

    #[tokio::test]
    async fn a_deleted_trigger_watches_nothing_and_leaves_the_listing() {
        let store = FakeTriggerStore::default();
        let record = trigger_record("d");
        register_trigger(&store, &record).await.unwrap();
        *store.losing_replaces.lock().unwrap() = 1;
        let now: Timestamp = "2026-12-01T00:00:00Z".parse().unwrap();
        let deleted = delete_trigger(&store, &record.trigger_id, now)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (deleted.state, deleted.listing.as_deref()),
            (TriggerState::Deleted, None)
        );
        assert!(deleted.expires_at.is_some());
        assert!(store.watching("s3://data/i.csv").await.unwrap().is_empty());
        assert!(store.recent(10, None).await.unwrap().0.is_empty());
        // Again: answered the same; an unknown one is None.
        assert!(delete_trigger(&store, &record.trigger_id, now)
            .await
            .unwrap()
            .is_some());
        let unknown = TriggerId::parse("nope").unwrap();
        assert!(delete_trigger(&store, &unknown, now).await.unwrap().is_none());
    }
}
