//! The services schedules live in: the schedules table and EventBridge Scheduler.

use async_trait::async_trait;

use super::record::{ScheduleId, ScheduleRecord};
use crate::errors::ServiceError;

/// Outcome of writing a new schedule record.
#[derive(Debug, Clone, PartialEq)]
pub enum ScheduleCreated {
    New,
    /// A record with this id exists (a repeated submission); it is returned untouched.
    AlreadyExists(Box<ScheduleRecord>),
}

/// The schedules table.
#[async_trait]
pub trait ScheduleStore: Send + Sync {
    async fn get(&self, id: &ScheduleId) -> Result<Option<ScheduleRecord>, ServiceError>;
    /// Writes the record only if no record has its id.
    async fn create(&self, record: &ScheduleRecord) -> Result<ScheduleCreated, ServiceError>;
    /// Writes `record` (its revision already bumped) only if the stored one is still at
    /// `read_revision`; `false`: another writer was first, nothing was written.
    async fn replace(&self, record: &ScheduleRecord, read_revision: u64) -> Result<bool, ServiceError>;
    /// Schedules that exist (not deleted), newest first: at most `limit` after the one `after`
    /// (its `created_at~schedule_id`); the cursor of the next page.
    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<ScheduleRecord>, Option<String>), ServiceError>;
}

/// One EventBridge Scheduler schedule as recoflow makes it: a firing invokes the target
/// function with `input`, through a role that may invoke only that function.
#[derive(Debug, Clone, PartialEq)]
pub struct SchedulerSchedule {
    pub name: String,
    pub expression: String,
    pub timezone: String,
    /// Unix seconds.
    pub start: Option<i64>,
    pub end: Option<i64>,
    pub enabled: bool,
    /// The JSON the target receives; the Scheduler fills in its `<aws.scheduler.*>` attributes.
    pub input: String,
    /// Who and what the schedule is for (schedules themselves take no tags).
    pub description: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchedulerWrite {
    Done,
    /// CreateSchedule: a schedule with this name exists (a repeated submission).
    AlreadyExists,
    /// UpdateSchedule, DeleteSchedule: there is no such schedule.
    NotFound,
}

/// EventBridge Scheduler, in the stack's schedule group, with the stack's target and role.
#[async_trait]
pub trait Scheduler: Send + Sync {
    async fn create(&self, schedule: &SchedulerSchedule) -> Result<SchedulerWrite, ServiceError>;
    /// Replaces the whole schedule (the service's UpdateSchedule does), e.g. to disable it.
    async fn update(&self, schedule: &SchedulerSchedule) -> Result<SchedulerWrite, ServiceError>;
    async fn delete(&self, name: &str) -> Result<SchedulerWrite, ServiceError>;
}
