//! The services triggers live in: the triggers table (records and which triggers watch a
//! file) and the delayed checks (executions of the trigger-check state machine).

use async_trait::async_trait;

use super::record::TriggerRecord;
use super::TriggerId;
use crate::errors::ServiceError;
use crate::ports::ObjectStore;
use crate::schedule::firing::FiringPorts;

/// Outcome of writing a new trigger record.
#[derive(Debug, Clone, PartialEq)]
pub enum TriggerCreated {
    New,
    /// A record with this id exists (a repeated submission); it is returned untouched.
    AlreadyExists(Box<TriggerRecord>),
}

/// The triggers table.
#[async_trait]
pub trait TriggerStore: Send + Sync {
    async fn get(&self, id: &TriggerId) -> Result<Option<TriggerRecord>, ServiceError>;
    /// Writes the record only if no record has its id.
    async fn create(&self, record: &TriggerRecord) -> Result<TriggerCreated, ServiceError>;
    /// Writes `record` (its revision already bumped) only if the stored one is still at
    /// `read_revision`; `false`: another writer was first, nothing was written.
    async fn replace(&self, record: &TriggerRecord, read_revision: u64) -> Result<bool, ServiceError>;
    /// Triggers that exist (not deleted), newest first: at most `limit` after the one `after`
    /// (its `created_at~trigger_id`); the cursor of the next page.
    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<TriggerRecord>, Option<String>), ServiceError>;
    /// Notes that the trigger watches each of these S3 URIs (adding it again changes nothing).
    async fn watch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError>;
    /// The trigger watches these URIs no more.
    async fn unwatch(&self, id: &TriggerId, uris: &[String]) -> Result<(), ServiceError>;
    /// The triggers watching this S3 URI.
    async fn watching(&self, uri: &str) -> Result<Vec<TriggerId>, ServiceError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CheckStart {
    Started,
    /// A check of this name exists: the same event delivered again.
    AlreadyExists,
}

/// The delayed checks: each waits, then asks the schedules function to check the trigger
/// (`statemachines/trigger-check.asl.json`).
#[async_trait]
pub trait TriggerChecks: Send + Sync {
    /// Starts the check named `name` (unique per S3 object version) with `input` (JSON).
    async fn start_check(&self, name: &str, input: &str) -> Result<CheckStart, ServiceError>;
}

/// What data arriving and checks need: what starting a job needs, the delayed checks, and the
/// data bucket (the files' heads).
pub trait TriggerPorts: FiringPorts {
    type Checks: TriggerChecks;
    type Objects: ObjectStore;
    fn checks(&self) -> &Self::Checks;
    fn objects(&self) -> &Self::Objects;
}
