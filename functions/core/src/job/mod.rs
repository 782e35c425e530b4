//! Jobs: their ids, their status life cycle and the record kept in the jobs table.

pub mod id;
pub mod record;
pub mod status;
#[cfg(test)]
mod tests;

pub use id::{form_digest, JobId};
pub use record::{
    job_listing, Cancellation, JobFailure, JobRecord, JobSource, ListCursor, Notification, NotificationState,
    Prepared, PreparedFile, SkipCause, Skipped, USERS_FILE_ROWS,
};
pub use status::{JobStatus, StatusChange};
// Time stamps on records are written by the clock module; re-exported for the record builders.
pub use crate::clock::now_rfc3339;
