//! The AWS services recoflow uses, as traits, so handlers are tested with in-memory fakes and
//! run against the SDK adapters in `crate::aws`.

use async_trait::async_trait;

use crate::errors::ServiceError;
use crate::job::{JobFailure, JobId, JobRecord, JobStatus};

/// Outcome of creating a job record.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New,
    /// A record with this id already existed; it is returned untouched.
    AlreadyExists(Box<JobRecord>),
}

/// A refused status change.
#[derive(Debug, thiserror::Error)]
pub enum TransitionError {
    #[error("job {0} does not exist")]
    NotFound(JobId),
    #[error("job {job_id} cannot move from {from} to {to}")]
    Illegal {
        job_id: JobId,
        from: JobStatus,
        to: JobStatus,
    },
    #[error(transparent)]
    Service(#[from] ServiceError),
}

/// Extra fields written together with a status change.
#[derive(Debug, Clone, Default)]
pub struct TransitionExtras {
    pub failure: Option<JobFailure>,
}

#[async_trait]
pub trait JobStore: Send + Sync {
    async fn get(&self, job_id: &JobId) -> Result<Option<JobRecord>, ServiceError>;
    /// Writes the record only if no record has this id.
    async fn create(&self, record: &JobRecord) -> Result<Created, ServiceError>;
    /// Moves a job to `to` (appending to its history) only if its current status allows it.
    async fn transition(
        &self,
        job_id: &JobId,
        to: JobStatus,
        detail: &str,
        extras: TransitionExtras,
    ) -> Result<(), TransitionError>;
    async fn set_execution_arn(&self, job_id: &JobId, execution_arn: &str) -> Result<(), ServiceError>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionStart {
    Started {
        execution_arn: String,
    },
    /// An execution with this name exists: a duplicate delivery of the same job.
    AlreadyExists,
}

#[async_trait]
pub trait ExecutionStarter: Send + Sync {
    async fn start_execution(&self, name: &JobId, input: &str) -> Result<ExecutionStart, ServiceError>;
}

/// Result of reading an object that may be too large to read.
#[derive(Debug, Clone, PartialEq)]
pub enum ObjectRead {
    Body(Vec<u8>),
    TooLarge { size: u64 },
    Missing,
}

/// The start of an object and the size of the whole object.
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectHead {
    pub bytes: Vec<u8>,
    pub size: u64,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Size of an object, `None` if it does not exist.
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, ServiceError>;
    /// Reads a whole object, refusing (without downloading it) one over `max_bytes`.
    async fn read_limited(&self, bucket: &str, key: &str, max_bytes: u64)
        -> Result<ObjectRead, ServiceError>;
    /// The first bytes of an object and its total size, in one ranged GET; `None` if it does
    /// not exist.
    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
    ) -> Result<Option<ObjectHead>, ServiceError>;
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ServiceError>;
    async fn copy(&self, bucket: &str, from_key: &str, to_key: &str) -> Result<(), ServiceError>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), ServiceError>;
}
