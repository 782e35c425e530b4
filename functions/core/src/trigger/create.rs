//! Submitting a data-driven form: its record in the triggers table (conditional: a repeated
//! submission changes nothing), then the files it watches noted beside it. Both steps are
//! idempotent, so a retry finishes what a failed attempt began.

use tracing::info;

use super::ports::{TriggerCreated, TriggerStore};
use super::record::{TriggerRecord, TriggerState};
use crate::errors::ServiceError;

#[derive(Debug, Clone, PartialEq)]
pub enum TriggerSubmitted {
    /// A new trigger, watching its form's data files.
    Created,
    /// The same submission made this trigger before; it is as it was.
    Duplicate,
    /// The id belongs to a trigger of another form (an idempotency key reused).
    Conflict,
}

/// Writes the trigger's record (if new) and notes the files it watches.
pub async fn register_trigger<S: TriggerStore>(
    triggers: &S,
    record: &TriggerRecord,
) -> Result<TriggerSubmitted, ServiceError> {
    let stored = match triggers.create(record).await? {
        TriggerCreated::New => None,
        TriggerCreated::AlreadyExists(existing) if existing.form_digest != record.form_digest => {
            return Ok(TriggerSubmitted::Conflict)
        }
        TriggerCreated::AlreadyExists(existing) => Some(existing),
    };
    // An earlier attempt may have stopped before noting the files; a deleted trigger's repeat
    // watches nothing again.
    let current = stored.as_deref().unwrap_or(record);
    if current.state == TriggerState::Enabled {
        triggers
            .watch(&current.trigger_id, &current.watched_uris())
            .await?;
    }
    info!(trigger_id = %current.trigger_id, files = ?current.watched_uris(), "trigger watches its data files");
    Ok(match stored {
        None => TriggerSubmitted::Created,
        Some(_) => TriggerSubmitted::Duplicate,
    })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeTriggerStore};
    use crate::job::JobSource;
    use crate::trigger::{TriggerId, TriggerSettings};

    pub(crate) fn trigger_record(digest: &str) -> TriggerRecord {
        let mut form = test_form("container");
        form.trigger = Some(TriggerSettings {
            on_new_data: true,
            quiet_seconds: 60,
        });
        TriggerRecord::new(
            TriggerId::parse("spring-1").unwrap(),
            form,
            digest.into(),
            JobSource::Api {
                idempotency_key: None,
            },
            "2026-12-01T00:00:00Z",
            1_000,
        )
    }

    #[tokio::test]
    async fn a_trigger_is_registered_once_and_watches_every_data_file() {
        let store = FakeTriggerStore::default();
        let record = trigger_record("d1");
        assert_eq!(
            register_trigger(&store, &record).await.unwrap(),
            TriggerSubmitted::Created
        );
        for uri in ["s3://data/i.csv", "s3://data/u.csv"] {
            assert_eq!(
                store.watching(uri).await.unwrap(),
                std::slice::from_ref(&record.trigger_id)
            );
        }
        assert_eq!(
            register_trigger(&store, &record).await.unwrap(),
            TriggerSubmitted::Duplicate
        );
        assert_eq!(
            register_trigger(&store, &trigger_record("d2")).await.unwrap(),
            TriggerSubmitted::Conflict
        );
    }

    #[tokio::test]
    async fn a_failed_watch_is_finished_by_the_retry() {
        let store = FakeTriggerStore::default();
        *store.failing_watches.lock().unwrap() = 1;
        let record = trigger_record("d1");
        assert!(register_trigger(&store, &record).await.is_err());
        assert!(store.watching("s3://data/i.csv").await.unwrap().is_empty());
        assert_eq!(
            register_trigger(&store, &record).await.unwrap(),
            TriggerSubmitted::Duplicate
        );
        assert_eq!(store.watching("s3://data/i.csv").await.unwrap().len(), 1);
    }
}
