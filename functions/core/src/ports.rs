//! The AWS services recoflow uses, as traits, so handlers are tested with in-memory fakes
//! (`crate::fakes`) and run against the SDK adapters of the `recoflow-aws` crate.

use std::collections::BTreeMap;
use std::pin::Pin;

use async_trait::async_trait;
use tokio::io::AsyncRead;
use tokio::sync::mpsc;

use crate::delivery::{Delivery, Pointer, StoredList};
use crate::errors::ServiceError;
pub use crate::errors::TransitionError;
use crate::job::{Cancellation, JobFailure, JobId, JobRecord, JobStatus, ListCursor, Prepared};
use crate::launch::{CreateError, CreateOutcome, Observed, ResourceSpec};
use crate::phase::LaunchedResource;
use crate::quota::{Pool, PoolState, QuotaLimits, ServiceJob, SlotHolder};
use crate::quota_queue::Waiter;
use crate::versions::{ResultSetEntry, VersionRecord};

/// Outcome of creating a job record.
#[derive(Debug, Clone, PartialEq)]
pub enum Created {
    New,
    /// A record with this id already existed; it is returned untouched.
    AlreadyExists(Box<JobRecord>),
}

/// Extra fields written together with a status change.
#[derive(Debug, Clone, Default)]
pub struct TransitionExtras {
    pub failure: Option<JobFailure>,
    pub cancellation: Option<Cancellation>,
    /// Why a job moving to `SKIPPED` is not run.
    pub skipped: Option<crate::job::Skipped>,
}

/// A change to a job record that is not a status change.
#[derive(Debug, Clone, PartialEq)]
pub enum JobPatch {
    ExecutionArn(String),
    /// What Prepare found: the data files, the scoring input, how many users it holds.
    Prepared(Prepared),
    /// Sets these counters (others are kept).
    Counts(BTreeMap<String, u64>),
    /// Adds to these counters (a missing one counts from 0): progress reported by workers
    /// running at once.
    AddCounts(BTreeMap<String, u64>),
    /// Adds or replaces the entry of this resource (keyed by its name).
    Resource(LaunchedResource),
    /// Where the delivery of the results stands.
    Delivery(Delivery),
    /// Whether the job's Slack message went out.
    Notification(crate::job::Notification),
    /// The quality gate's verdict on the job's version.
    Gate(crate::quality::GateOutcome),
    /// The versions of the data files Prepare read.
    DataVersions(Vec<crate::data_version::DataVersion>),
    /// The job retried this one (`POST /jobs/{id}/retry`).
    RetriedBy(JobId),
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
    /// The newest jobs first, `limit` of them after `after`; the cursor of the next page, if any.
    async fn recent(
        &self,
        limit: u32,
        after: Option<&ListCursor>,
    ) -> Result<(Vec<JobRecord>, Option<ListCursor>), ServiceError>;
    /// Applies `patch` if the job exists and, when `while_in` is given, its status is one of
    /// those. `Ok(false)`: the job is missing or in another status; nothing was written.
    async fn patch(
        &self,
        job_id: &JobId,
        patch: JobPatch,
        while_in: Option<&[JobStatus]>,
    ) -> Result<bool, ServiceError>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum ExecutionStart {
    Started {
        execution_arn: String,
    },
    /// An execution with this name exists: a duplicate delivery of the same job.
    AlreadyExists,
}

/// Step Functions executions of the job state machine.
#[async_trait]
pub trait Executions: Send + Sync {
    async fn start_execution(&self, name: &JobId, input: &str) -> Result<ExecutionStart, ServiceError>;
    /// Stops a running execution; one that already ended is left as it is.
    async fn stop_execution(&self, execution_arn: &str, cause: &str) -> Result<(), ServiceError>;
}

/// How an execution stands, as Step Functions says (`RUNNING`, `SUCCEEDED`, `FAILED`,
/// `TIMED_OUT`, `ABORTED`); `None` when it does not exist.
#[async_trait]
pub trait ExecutionLookup: Send + Sync {
    async fn execution_status(&self, execution_arn: &str) -> Result<Option<String>, ServiceError>;
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
    /// Which version of the object was read.
    pub version: ObjectVersion,
}

/// What tells one upload of an object from another: its version id (a versioned bucket), its
/// ETag (the bytes' digest for a single-part upload) and when it was written.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct ObjectVersion {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version_id: Option<String>,
    /// Without the quotes S3 puts around it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Unix seconds (S3 keeps `LastModified` to the second).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_modified: Option<i64>,
}

/// An object's body, read as it arrives.
pub type ObjectStream = Pin<Box<dyn AsyncRead + Send>>;

/// One page of a listing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct KeyPage {
    pub keys: Vec<String>,
    /// Where the next page starts; `None` on the last page.
    pub continuation: Option<String>,
}

#[async_trait]
pub trait ObjectStore: Send + Sync {
    /// Size of an object, `None` if it does not exist.
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, ServiceError>;
    /// Reads a whole object (`version_id`: that version, else the latest), refusing
    /// (without downloading it) one over `max_bytes`.
    async fn read_limited(
        &self,
        bucket: &str,
        key: &str,
        version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<ObjectRead, ServiceError>;
    /// The first bytes of an object and its total size, in one ranged GET; `None` if it does
    /// not exist.
    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
    ) -> Result<Option<ObjectHead>, ServiceError>;
    /// Streams an object's body from byte `offset` on; `None` if it does not exist.
    async fn open(&self, bucket: &str, key: &str, offset: u64) -> Result<Option<ObjectStream>, ServiceError>;
    /// Keys under a prefix, in key order, at most `max` of them.
    async fn list(&self, bucket: &str, prefix: &str, max: usize) -> Result<Vec<String>, ServiceError>;
    /// One page of the keys under a prefix, in key order (S3's `ListObjectsV2`): those after
    /// `start_after`, or, given `continuation` (a page's [`KeyPage::continuation`]), those after
    /// that page.
    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<KeyPage, ServiceError>;
    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        content_type: &str,
    ) -> Result<(), ServiceError>;
    /// Writes an object from the chunks received, uploading as they come (a multipart upload
    /// when there is more than one), so the object is never whole in memory. Returns its size.
    async fn put_chunks(
        &self,
        bucket: &str,
        key: &str,
        content_type: &str,
        chunks: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, ServiceError>;
    /// Copies within a bucket (`version_id`: that version of the source, else the latest).
    async fn copy(
        &self,
        bucket: &str,
        from_key: &str,
        version_id: Option<&str>,
        to_key: &str,
    ) -> Result<(), ServiceError>;
    async fn delete(&self, bucket: &str, key: &str) -> Result<(), ServiceError>;
    /// A URL anyone holding it can GET the object with for `expires_in` at most (S3: a SigV4
    /// presigned URL, at most 7 days, and no longer than the signing credentials last: the
    /// answer says how long that is, when it can be known).
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<PresignedUrl, ServiceError>;
}

/// A presigned URL and how long it works from now.
#[derive(Debug, Clone, PartialEq)]
pub struct PresignedUrl {
    pub url: String,
    /// `None`: signed with temporary credentials whose end is not known here (a Lambda
    /// function's role session: hours), so the URL stops working when they do.
    pub works_for: Option<std::time::Duration>,
}

/// Outcome of trying to take units of a pool.
#[derive(Debug, Clone, PartialEq)]
pub enum Acquired {
    /// The holder was added.
    Taken,
    /// The holder was there already (a retried acquire); its lease was renewed.
    AlreadyHeld,
    /// Not enough room; the pool as it was.
    Full(PoolState),
}

/// The quota table: one counting semaphore per pool. Every write is one conditional write.
#[async_trait]
pub trait SlotStore: Send + Sync {
    async fn pool(&self, pool: &Pool) -> Result<PoolState, ServiceError>;
    /// Adds `holder` if the pool's units in use plus the holder's stay within `capacity`.
    async fn acquire(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
    ) -> Result<Acquired, ServiceError>;
    /// Extends a holder's lease; `false` if it holds nothing.
    async fn renew(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError>;
    /// Removes the holder (`holder.id()`), giving its units back; `false` if it held nothing.
    async fn release(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError>;
    /// Removes a holder whose lease expired, only if its lease is still the expired one.
    async fn reclaim(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError>;
    /// Like `acquire`, and only if the pool's queue is still at `queue_revision` (nobody took a
    /// place or left since the caller looked); the holder's own place in the queue, if it had
    /// one, goes in the same write.
    async fn take_in_turn(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
        queue_revision: u64,
    ) -> Result<TakenInTurn, ServiceError>;
    /// Puts the waiter in the pool's queue, or replaces its place (a new token).
    async fn enqueue(&self, pool: &Pool, waiter: &Waiter) -> Result<(), ServiceError>;
    /// Takes the holder's place out of the pool's queue; `false` if it had none.
    async fn leave(&self, pool: &Pool, holder_id: &str) -> Result<bool, ServiceError>;
}

/// Outcome of [`SlotStore::take_in_turn`].
#[derive(Debug, Clone, PartialEq)]
pub enum TakenInTurn {
    /// Taken, already held, or no room, as `acquire` answers.
    Decided(Acquired),
    /// The queue changed since the caller looked: look again.
    QueueMoved,
}

/// Step Functions' task tokens: how a waiting `WaitForQuota` state is told to go on.
#[async_trait]
pub trait TaskCallbacks: Send + Sync {
    /// `SendTaskSuccess` with `output` (JSON).
    async fn succeed(&self, token: &str, output: &str) -> Result<Callback, ServiceError>;
}

/// Outcome of sending a task token.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Callback {
    /// The waiting state goes on.
    Delivered,
    /// Nobody waits on that token any more (it timed out, its execution ended, or it was
    /// answered already): `InvalidToken`, `TaskDoesNotExist`, `TaskTimedOut`.
    TaskGone,
}

/// Where the operator's quota limits live (an SSM parameter).
#[async_trait]
pub trait LimitSource: Send + Sync {
    async fn limits(&self) -> Result<Result<QuotaLimits, String>, ServiceError>;
}

/// SageMaker or Personalize, as the runner uses them.
#[async_trait]
pub trait MlService: Send + Sync {
    /// The service's in-progress jobs that count against `pool`, except recoflow's own (names
    /// starting with one of `recoflow_prefixes`), whose size the caller already knows.
    async fn in_progress(
        &self,
        pool: &Pool,
        recoflow_prefixes: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError>;
    /// The resource as the service sees it; `None` if it does not exist.
    async fn describe(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ServiceError>;
    async fn create(&self, spec: &ResourceSpec) -> Result<CreateOutcome, CreateError>;
    /// A launched resource as the service sees it now; `None` if it was never created.
    async fn observe(&self, resource: &LaunchedResource) -> Result<Option<Observed>, ServiceError>;
    /// Asks the service to stop a running job; one that has ended, or cannot be stopped
    /// (Personalize imports and batch jobs), is left as it is. `observe` tells what became of it.
    async fn stop(&self, resource: &LaunchedResource) -> Result<(), ServiceError>;
}

#[derive(Debug, Clone, PartialEq)]
pub enum Published {
    /// The pointer now names the new version.
    Switched,
    /// A newer version is current already (a later job of the same result set published
    /// first): the pointer is left alone.
    Superseded { current: String },
    /// The version's job is no longer `DELIVERING` (cancelled meanwhile): the pointer is left
    /// alone, and the version, never current, expires. `None`: the job has no record.
    JobNotDelivering { status: Option<JobStatus> },
}

/// The recommendations table: lists by key, and each result set's pointer.
#[async_trait]
pub trait RecommendationStore: Send + Sync {
    /// Writes lists in full batches, several in flight, retrying what the table could not take
    /// (unprocessed items, throttling) with backoff and full jitter, within a bounded budget.
    async fn put_lists(&self, lists: Vec<StoredList>) -> Result<(), ServiceError>;
    /// Reads lists in one round trip; keys without an item are absent from the answer.
    async fn get_lists(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, StoredList>, ServiceError>;
    async fn pointer(&self, result_set: &str) -> Result<Option<Pointer>, ServiceError>;
    /// One transaction: the pointer moves to `pointer.version` unless the current version is
    /// newer, and only while the version's job (`pointer.job_id`) is `DELIVERING` in the jobs
    /// table, so a job cancelled in the last moments of its delivery never becomes current.
    async fn publish(&self, pointer: &Pointer) -> Result<Published, ServiceError>;
}

/// What became of a promote or rollback.
#[derive(Debug, Clone, PartialEq)]
pub enum PointerSwitch {
    Switched,
    /// The pointer no longer names the version the caller saw: nothing changed.
    Moved {
        current: Option<String>,
    },
}

/// A page of a listing and the cursor of the next one.
pub type Page<T> = (Vec<T>, Option<String>);

/// Versions beside the pointer, and the result-set entries (the recommendations table; see
/// `versions`).
#[async_trait]
pub trait VersionStore: Send + Sync {
    async fn put_version(&self, record: &VersionRecord) -> Result<(), ServiceError>;
    async fn version(&self, result_set: &str, version: &str) -> Result<Option<VersionRecord>, ServiceError>;
    /// A result set's versions, newest first: at most `limit` after the version `after`.
    async fn versions(
        &self,
        result_set: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<VersionRecord>, ServiceError>;
    async fn put_entry(&self, entry: &ResultSetEntry) -> Result<(), ServiceError>;
    async fn entry(&self, result_set: &str) -> Result<Option<ResultSetEntry>, ServiceError>;
    /// Result-set entries by name: at most `limit` after the result set `after`.
    async fn entries(&self, limit: u32, after: Option<&str>) -> Result<Page<ResultSetEntry>, ServiceError>;
    /// One conditional write: the pointer becomes `pointer` only if it still names `expected`
    /// (`None`: there is no pointer yet).
    async fn switch_pointer(
        &self,
        pointer: &Pointer,
        expected: Option<&str>,
    ) -> Result<PointerSwitch, ServiceError>;
    /// Notes that a staleness alert went out while `version` was current; `false` if one was
    /// noted for it already (the alert is sent once until a newer version).
    async fn note_stale_alert(&self, result_set: &str, version: &str) -> Result<bool, ServiceError>;
    /// Sets the status of the entry's last job, in one conditional write, only while the entry
    /// still names `job_id` (a later job's delivery may have begun: its own status stands, and
    /// nothing else of the entry is written over).
    async fn note_last_job(
        &self,
        result_set: &str,
        job_id: &JobId,
        status: JobStatus,
    ) -> Result<(), ServiceError>;
}

/// A CloudWatch metric: namespace, name and dimensions (name, value).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MetricId {
    pub namespace: String,
    pub name: String,
    pub dimensions: Vec<(String, String)>,
}

/// Metrics as CloudWatch aggregated them (e.g. from embedded-metric-format log lines).
#[async_trait]
pub trait MetricSums: Send + Sync {
    /// Each metric's sum between two Unix times, in order; `None` where it has no data.
    async fn sums(
        &self,
        metrics: &[MetricId],
        from_unix: i64,
        to_unix: i64,
    ) -> Result<Vec<Option<f64>>, ServiceError>;
}

/// A secret kept in an SSM SecureString (the Slack webhook URL, the web page's access token).
/// `None`: not configured.
#[async_trait]
pub trait SecretSource: Send + Sync {
    async fn secret(&self) -> Result<Option<String>, ServiceError>;
}

/// An HTTP POST of a JSON body. `Err` is a network failure (nothing was answered).
#[async_trait]
pub trait WebhookPoster: Send + Sync {
    async fn post(&self, url: &str, body: &serde_json::Value) -> Result<WebhookReply, String>;
}

#[derive(Debug, Clone, PartialEq)]
pub struct WebhookReply {
    pub status: u16,
    pub body: String,
    pub retry_after: Option<String>,
}

pub use crate::clock::Clock;
pub use crate::events::ports::{AggregateStore, EventLedger, PlacementStore, RawEventSink, SigningKeys};
pub use crate::schedule::ports::{
    ScheduleCreated, ScheduleStore, Scheduler, SchedulerSchedule, SchedulerWrite,
};

/// Failures of one cause within a window: the first few are sent, the rest folded into one
/// summary (see `notification`).
#[derive(Debug, Clone, PartialEq)]
pub enum FoldOutcome {
    Send,
    /// Folded: the summary goes out when the window closes, this many seconds from now.
    Folded {
        closes_in: u32,
    },
}

/// Failures held for a summary, taken out by whoever sends it.
#[derive(Debug, Clone, PartialEq)]
pub struct FoldedFailures {
    pub error: String,
    pub cause: String,
    pub job_ids: Vec<String>,
}

#[async_trait]
pub trait FoldStore: Send + Sync {
    /// Counts this failure in its signature's window (one conditional write).
    async fn count_failure(
        &self,
        signature: &str,
        job_id: &JobId,
        error: &str,
        cause: &str,
        window_seconds: u32,
        max_messages: u32,
    ) -> Result<FoldOutcome, ServiceError>;
    /// Takes every failure held for the signature's summary; `None` when another taker was first.
    async fn take_folded(&self, signature: &str) -> Result<Option<FoldedFailures>, ServiceError>;
}
