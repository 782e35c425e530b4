//! In-memory fakes of the ports, for handler unit tests (feature `fakes`). They follow the
//! same rules as the real adapters: conditional create, legal transitions only, conditional
//! patches, slot writes that never exceed the capacity asked for.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::delivery::{Pointer, StoredList};
use crate::errors::ServiceError;
use crate::form::JobForm;
use crate::job::{now_rfc3339, JobId, JobRecord, JobSource, JobStatus, ListCursor, StatusChange};
use crate::launch::{CreateError, CreateOutcome, Observed, ResourceSpec};
use crate::phase::{LaunchedResource, ResourceState};
use crate::ports::{
    Acquired, Clock, Created, ExecutionLookup, ExecutionStart, Executions, FoldOutcome, FoldStore,
    FoldedFailures, JobPatch, JobStore, KeyPage, LimitSource, MlService, ObjectHead, ObjectRead, ObjectStore,
    ObjectStream, ObjectVersion, Page, PointerSwitch, Published, RecommendationStore, SecretSource,
    SlotStore, TransitionError, TransitionExtras, VersionStore, WebhookPoster, WebhookReply,
};
use crate::ports::{Callback, PresignedUrl, TakenInTurn, TaskCallbacks};
use crate::quota::{Pool, PoolState, QuotaLimits, ServiceJob, SlotHolder};
use crate::quota_queue::Waiter;
use crate::validation::{validate_form, ValidationRules};
use crate::versions::{ResultSetEntry, VersionRecord};

pub use crate::events::fakes::*;
pub use crate::trigger::fakes::*;

/// A valid form for tests: `backend` is "personalize" or "container"; data in bucket `data`.
pub fn test_form(backend: &str) -> JobForm {
    let mut form = serde_json::json!({
        "schema_version": 1, "job_name": "spring", "submitted_by": "ana@example.com",
        "result_set": "spring", "backend": backend,
        "dataset": {"interactions": "s3://data/i.csv", "users": "s3://data/u.csv"},
        "segment": {"gender": ["F"]},
        "num_results": 5
    });
    if backend == "container" {
        form["container"] = serde_json::json!({
            "training_image": "123.dkr.ecr.us-east-1.amazonaws.com/recsys:1",
            "scoring_image": "123.dkr.ecr.us-east-1.amazonaws.com/recsys:1",
            "instance_type": "ml.m5.large"
        });
    } else {
        form["personalize"] = serde_json::json!({});
    }
    validate_form(
        form.to_string().as_bytes(),
        &ValidationRules::from_allow_list("data"),
    )
    .expect("the test form is valid")
}

fn unavailable(service: &'static str, operation: &'static str) -> ServiceError {
    ServiceError::Failed {
        service,
        operation,
        message: "injected failure".to_owned(),
    }
}

#[derive(Default)]
pub struct FakeJobStore {
    pub records: Mutex<BTreeMap<JobId, JobRecord>>,
    /// The next this many status changes fail, as a table that keeps failing would.
    pub failing_transitions: Mutex<u32>,
}

impl FakeJobStore {
    pub fn record(&self, job_id: &JobId) -> Option<JobRecord> {
        self.records.lock().unwrap().get(job_id).cloned()
    }

    /// Adds a QUEUED job with this form, as intake or the API would have left it.
    pub fn insert_queued(&self, job_id: &str, form: JobForm) -> JobId {
        let job_id = JobId::parse(job_id).expect("a valid job id");
        let source = JobSource::Api {
            idempotency_key: None,
        };
        let record = JobRecord::queued(job_id.clone(), source, form, "digest".into(), &now_rfc3339());
        self.records.lock().unwrap().insert(job_id.clone(), record);
        job_id
    }

    /// Puts a job straight into `status` (history records the jump), for tests that start
    /// mid-way.
    pub fn force_status(&self, job_id: &JobId, status: JobStatus) {
        let mut records = self.records.lock().unwrap();
        let record = records.get_mut(job_id).expect("the job exists");
        record.status = status;
        record.history.push(StatusChange {
            status,
            at: now_rfc3339(),
            detail: "set by the test".into(),
        });
    }

    pub fn statuses(&self, job_id: &JobId) -> Vec<JobStatus> {
        self.record(job_id)
            .map(|r| r.history.iter().map(|c| c.status).collect())
            .unwrap_or_default()
    }

    pub fn all(&self) -> Vec<JobRecord> {
        self.records.lock().unwrap().values().cloned().collect()
    }
}

#[async_trait]
impl JobStore for FakeJobStore {
    async fn get(&self, job_id: &JobId) -> Result<Option<JobRecord>, ServiceError> {
        Ok(self.record(job_id))
    }

    async fn create(&self, record: &JobRecord) -> Result<Created, ServiceError> {
        let mut records = self.records.lock().unwrap();
        if let Some(existing) = records.get(&record.job_id) {
            return Ok(Created::AlreadyExists(Box::new(existing.clone())));
        }
        records.insert(record.job_id.clone(), record.clone());
        Ok(Created::New)
    }

    async fn transition(
        &self,
        job_id: &JobId,
        to: JobStatus,
        detail: &str,
        extras: TransitionExtras,
    ) -> Result<(), TransitionError> {
        {
            let mut failing = self.failing_transitions.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(unavailable("DynamoDB", "UpdateItem").into());
            }
        }
        let mut records = self.records.lock().unwrap();
        let record = records
            .get_mut(job_id)
            .ok_or_else(|| TransitionError::NotFound(job_id.clone()))?;
        // The adapter's rule: a job whose version was made current is past cancelling.
        let made_current = to == JobStatus::Cancelled && record.made_current.is_some();
        if !record.status.can_move_to(to) || made_current {
            return Err(TransitionError::Illegal {
                job_id: job_id.clone(),
                from: record.status,
                to,
            });
        }
        let now = now_rfc3339();
        record.status = to;
        record.updated_at = now.clone();
        record.history.push(StatusChange {
            status: to,
            at: now,
            detail: detail.to_owned(),
        });
        if extras.failure.is_some() {
            record.failure = extras.failure;
        }
        if extras.cancellation.is_some() {
            record.cancellation = extras.cancellation;
        }
        if extras.skipped.is_some() {
            record.skipped = extras.skipped;
        }
        Ok(())
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&ListCursor>,
    ) -> Result<(Vec<JobRecord>, Option<ListCursor>), ServiceError> {
        let mut all = self.all();
        all.sort_by(|a, b| (&b.created_at, &b.job_id).cmp(&(&a.created_at, &a.job_id)));
        let start = after
            .and_then(|c| {
                all.iter()
                    .position(|r| r.created_at == c.created_at && r.job_id == c.job_id)
            })
            .map_or(0, |i| i + 1);
        let page: Vec<JobRecord> = all.iter().skip(start).take(limit as usize).cloned().collect();
        let next = (start + page.len() < all.len())
            .then(|| page.last())
            .flatten()
            .map(|r| ListCursor {
                created_at: r.created_at.clone(),
                job_id: r.job_id.clone(),
            });
        Ok((page, next))
    }

    async fn patch(
        &self,
        job_id: &JobId,
        patch: JobPatch,
        while_in: Option<&[JobStatus]>,
    ) -> Result<bool, ServiceError> {
        let mut records = self.records.lock().unwrap();
        let Some(record) = records.get_mut(job_id) else {
            return Ok(false);
        };
        if while_in.is_some_and(|allowed| !allowed.contains(&record.status)) {
            return Ok(false);
        }
        match patch {
            JobPatch::ExecutionArn(arn) => record.execution_arn = Some(arn),
            JobPatch::Prepared(prepared) => record.prepared = Some(prepared),
            JobPatch::Counts(counts) => record.counts.extend(counts),
            JobPatch::AddCounts(counts) => {
                for (name, value) in counts {
                    *record.counts.entry(name).or_default() += value;
                }
            }
            JobPatch::Resource(resource) => {
                record.resources.insert(resource.name.clone(), resource);
            }
            JobPatch::Delivery(delivery) => record.delivery = Some(delivery),
            JobPatch::Notification(notification) => record.notification = Some(notification),
            JobPatch::Gate(gate) => record.gate = Some(gate),
            JobPatch::DataVersions(versions) => record.data_versions = versions,
            JobPatch::RetriedBy(job_id) => record.retried_by = Some(job_id),
        }
        Ok(true)
    }
}

/// Remembers every execution started; a second start with the same name is `AlreadyExists`.
#[derive(Default)]
pub struct FakeExecutions {
    pub started: Mutex<Vec<(JobId, String)>>,
    pub stopped: Mutex<Vec<String>>,
    /// When set, every start fails with this throttling error.
    pub throttle: Mutex<bool>,
    /// Statuses set by a test, by execution ARN (an execution that ended on its own).
    pub statuses: Mutex<HashMap<String, String>>,
}

#[async_trait]
impl Executions for FakeExecutions {
    async fn start_execution(&self, name: &JobId, input: &str) -> Result<ExecutionStart, ServiceError> {
        if *self.throttle.lock().unwrap() {
            return Err(ServiceError::Throttled {
                service: "Step Functions",
                operation: "StartExecution",
                message: "ThrottlingException: rate exceeded".to_owned(),
            });
        }
        let mut started = self.started.lock().unwrap();
        if started.iter().any(|(n, _)| n == name) {
            return Ok(ExecutionStart::AlreadyExists);
        }
        started.push((name.clone(), input.to_owned()));
        Ok(ExecutionStart::Started {
            execution_arn: format!("arn:aws:states:us-east-1:000000000000:execution:jobs:{name}"),
        })
    }

    async fn stop_execution(&self, execution_arn: &str, _cause: &str) -> Result<(), ServiceError> {
        self.stopped.lock().unwrap().push(execution_arn.to_owned());
        Ok(())
    }
}

/// Executions as Step Functions would describe them: started ones run, stopped ones are
/// `ABORTED`, unless a test set another status.
#[async_trait]
impl ExecutionLookup for FakeExecutions {
    async fn execution_status(&self, execution_arn: &str) -> Result<Option<String>, ServiceError> {
        if let Some(status) = self.statuses.lock().unwrap().get(execution_arn) {
            return Ok(Some(status.clone()));
        }
        if self.stopped.lock().unwrap().iter().any(|a| a == execution_arn) {
            return Ok(Some("ABORTED".into()));
        }
        let started = self.started.lock().unwrap();
        Ok(started
            .iter()
            .any(|(name, _)| execution_arn.ends_with(&format!(":{name}")))
            .then(|| "RUNNING".to_owned()))
    }
}

/// Keys per page of a listing (S3's).
pub const LIST_PAGE_KEYS: usize = 1000;

/// Objects by (bucket, key), in key order as S3 lists them.
#[derive(Default)]
pub struct FakeObjects {
    pub objects: Mutex<BTreeMap<(String, String), Vec<u8>>>,
    /// Chunks each `put_chunks` call received, by key.
    pub chunk_counts: Mutex<HashMap<String, usize>>,
    /// Each object's latest version, as a versioned bucket keeps it: a new version id per
    /// write, the ETag a digest of the bytes, written at [`Self::set_write_time`].
    pub versions: Mutex<HashMap<(String, String), ObjectVersion>>,
    /// Unix seconds the next writes are stamped with.
    pub write_time: Mutex<i64>,
    /// Writes made: each gets the next version id.
    pub writes: Mutex<u64>,
    /// URLs are presigned with temporary credentials whose end is not known (a role's).
    pub presigned_by_session: Mutex<bool>,
}

impl FakeObjects {
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        let body = body.into();
        let mut versions = self.versions.lock().unwrap();
        let mut writes = self.writes.lock().unwrap();
        *writes += 1;
        let version = ObjectVersion {
            version_id: Some(format!("v{writes}")),
            etag: Some(crate::phase::short_hash(&String::from_utf8_lossy(&body), 32)),
            last_modified: Some(*self.write_time.lock().unwrap()),
        };
        versions.insert((bucket.to_owned(), key.to_owned()), version);
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.to_owned(), key.to_owned()), body);
    }

    /// Later URLs are presigned as with a role's temporary credentials (`true`) or a key.
    pub fn set_presigned_by_session(&self, by_session: bool) {
        *self.presigned_by_session.lock().unwrap() = by_session;
    }

    /// Later writes are stamped with this time (Unix seconds).
    pub fn set_write_time(&self, unix: i64) {
        *self.write_time.lock().unwrap() = unix;
    }

    /// The object's latest version.
    pub fn version(&self, bucket: &str, key: &str) -> ObjectVersion {
        self.versions
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
            .unwrap_or_default()
    }

    pub fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        self.objects
            .lock()
            .unwrap()
            .get(&(bucket.to_owned(), key.to_owned()))
            .cloned()
    }

    pub fn keys(&self) -> Vec<String> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .map(|(_, k)| k.clone())
            .collect();
        keys.sort();
        keys
    }
}

#[async_trait]
impl ObjectStore for FakeObjects {
    async fn size(&self, bucket: &str, key: &str) -> Result<Option<u64>, ServiceError> {
        Ok(self.get(bucket, key).map(|b| b.len() as u64))
    }

    async fn read_limited(
        &self,
        bucket: &str,
        key: &str,
        _version_id: Option<&str>,
        max_bytes: u64,
    ) -> Result<ObjectRead, ServiceError> {
        Ok(match self.get(bucket, key) {
            None => ObjectRead::Missing,
            Some(body) if body.len() as u64 > max_bytes => ObjectRead::TooLarge {
                size: body.len() as u64,
            },
            Some(body) => ObjectRead::Body(body),
        })
    }

    async fn read_head(
        &self,
        bucket: &str,
        key: &str,
        bytes: u64,
    ) -> Result<Option<ObjectHead>, ServiceError> {
        Ok(self.get(bucket, key).map(|body| ObjectHead {
            bytes: body[..body.len().min(bytes as usize)].to_vec(),
            size: body.len() as u64,
            version: self.version(bucket, key),
        }))
    }

    async fn open(&self, bucket: &str, key: &str, offset: u64) -> Result<Option<ObjectStream>, ServiceError> {
        Ok(self.get(bucket, key).map(|body| {
            let start = (offset as usize).min(body.len());
            Box::pin(std::io::Cursor::new(body[start..].to_vec())) as ObjectStream
        }))
    }

    async fn list(&self, bucket: &str, prefix: &str, max: usize) -> Result<Vec<String>, ServiceError> {
        let mut keys: Vec<String> = self
            .objects
            .lock()
            .unwrap()
            .keys()
            .filter(|(b, k)| b == bucket && k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .collect();
        keys.sort();
        keys.truncate(max);
        Ok(keys)
    }

    async fn list_page(
        &self,
        bucket: &str,
        prefix: &str,
        start_after: Option<&str>,
        continuation: Option<&str>,
    ) -> Result<KeyPage, ServiceError> {
        // The token is the last key of the page before (S3's is opaque).
        let after = continuation.or(start_after).unwrap_or_default();
        let objects = self.objects.lock().unwrap();
        let from = (bucket.to_owned(), after.to_owned());
        let mut keys: Vec<String> = objects
            .range((Bound::Excluded(from), Bound::Unbounded))
            .map(|((b, k), _)| (b, k))
            .take_while(|(b, _)| *b == bucket)
            .filter(|(_, k)| k.starts_with(prefix))
            .map(|(_, k)| k.clone())
            .take(LIST_PAGE_KEYS + 1)
            .collect();
        let more = keys.len() > LIST_PAGE_KEYS;
        keys.truncate(LIST_PAGE_KEYS);
        let continuation = more.then(|| keys.last().cloned()).flatten();
        Ok(KeyPage { keys, continuation })
    }

    async fn put(
        &self,
        bucket: &str,
        key: &str,
        body: Vec<u8>,
        _content_type: &str,
    ) -> Result<(), ServiceError> {
        self.insert(bucket, key, body);
        Ok(())
    }

    async fn put_chunks(
        &self,
        bucket: &str,
        key: &str,
        _content_type: &str,
        mut chunks: mpsc::Receiver<Vec<u8>>,
    ) -> Result<u64, ServiceError> {
        let mut body = Vec::new();
        let mut count = 0;
        while let Some(chunk) = chunks.recv().await {
            body.extend(chunk);
            count += 1;
        }
        let size = body.len() as u64;
        self.chunk_counts.lock().unwrap().insert(key.to_owned(), count);
        self.insert(bucket, key, body);
        Ok(size)
    }

    async fn copy(
        &self,
        bucket: &str,
        from_key: &str,
        _version_id: Option<&str>,
        to_key: &str,
    ) -> Result<(), ServiceError> {
        let body = self
            .get(bucket, from_key)
            .ok_or_else(|| unavailable("S3", "CopyObject"))?;
        self.insert(bucket, to_key, body);
        Ok(())
    }

    async fn delete(&self, bucket: &str, key: &str) -> Result<(), ServiceError> {
        self.objects
            .lock()
            .unwrap()
            .remove(&(bucket.to_owned(), key.to_owned()));
        Ok(())
    }

    /// A URL naming the object and its lifetime, the same for the same arguments; it works
    /// for that lifetime unless `set_presigned_by_session` said the signer's session is
    /// temporary.
    async fn presign_get(
        &self,
        bucket: &str,
        key: &str,
        expires_in: std::time::Duration,
    ) -> Result<PresignedUrl, ServiceError> {
        let by_session = *self.presigned_by_session.lock().unwrap();
        Ok(PresignedUrl {
            url: format!(
                "https://{bucket}.s3.fake/{key}?X-Amz-Expires={}",
                expires_in.as_secs()
            ),
            works_for: (!by_session).then_some(expires_in),
        })
    }
}

/// The quota table in memory, with the same conditional rules as the DynamoDB adapter.
#[derive(Default)]
pub struct FakeSlots {
    pub pools: Mutex<BTreeMap<String, PoolState>>,
}

impl FakeSlots {
    pub fn state(&self, pool: &Pool) -> PoolState {
        self.pools
            .lock()
            .unwrap()
            .get(&pool.key())
            .cloned()
            .unwrap_or_default()
    }

    /// Puts a holder in directly (e.g. one left by an execution that died).
    pub fn insert(&self, pool: &Pool, holder: SlotHolder) {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        state.used += holder.units;
        state.holders.push(holder);
    }
}

#[async_trait]
impl SlotStore for FakeSlots {
    async fn pool(&self, pool: &Pool) -> Result<PoolState, ServiceError> {
        Ok(self.state(pool))
    }

    async fn acquire(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
    ) -> Result<Acquired, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        Ok(take(pools.entry(pool.key()).or_default(), holder, capacity))
    }

    async fn renew(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        match state.holders.iter_mut().find(|h| h.id() == holder.id()) {
            Some(existing) => {
                existing.expires_at = holder.expires_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn release(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        match state.holders.iter().position(|h| h.id() == holder.id()) {
            Some(i) => {
                let removed = state.holders.remove(i);
                state.used -= removed.units;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn reclaim(&self, pool: &Pool, holder: &SlotHolder) -> Result<bool, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        match state
            .holders
            .iter()
            .position(|h| h.id() == holder.id() && h.expires_at == holder.expires_at)
        {
            Some(i) => {
                let removed = state.holders.remove(i);
                state.used -= removed.units;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn take_in_turn(
        &self,
        pool: &Pool,
        holder: &SlotHolder,
        capacity: u32,
        queue_revision: u64,
    ) -> Result<TakenInTurn, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        if state.queue_revision != queue_revision {
            return Ok(TakenInTurn::QueueMoved);
        }
        let outcome = take(state, holder, capacity);
        if outcome == Acquired::Taken {
            state.waiting.retain(|w| w.holder.id() != holder.id());
            state.queue_revision += 1;
        }
        Ok(TakenInTurn::Decided(outcome))
    }

    async fn enqueue(&self, pool: &Pool, waiter: &Waiter) -> Result<(), ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        state.waiting.retain(|w| w.holder.id() != waiter.holder.id());
        state.waiting.push(waiter.clone());
        state.waiting.sort_by_key(Waiter::place);
        state.queue_revision += 1;
        Ok(())
    }

    async fn leave(&self, pool: &Pool, holder_id: &str) -> Result<bool, ServiceError> {
        let mut pools = self.pools.lock().unwrap();
        let state = pools.entry(pool.key()).or_default();
        let before = state.waiting.len();
        state.waiting.retain(|w| w.holder.id() != holder_id);
        if state.waiting.len() == before {
            return Ok(false);
        }
        state.queue_revision += 1;
        Ok(true)
    }
}

/// Adds the holder if there is room (a holder already there has its lease renewed).
fn take(state: &mut PoolState, holder: &SlotHolder, capacity: u32) -> Acquired {
    if let Some(existing) = state.holders.iter_mut().find(|h| h.id() == holder.id()) {
        existing.expires_at = holder.expires_at;
        return Acquired::AlreadyHeld;
    }
    if state.used + holder.units > capacity {
        return Acquired::Full(state.clone());
    }
    state.used += holder.units;
    state.holders.push(holder.clone());
    Acquired::Taken
}

/// Step Functions' task tokens in memory: what was sent, and tokens nobody waits on.
#[derive(Default)]
pub struct FakeTaskCallbacks {
    /// Every `SendTaskSuccess` that was delivered: (token, output).
    pub delivered: Mutex<Vec<(String, String)>>,
    /// Tokens whose state stopped waiting (timed out, execution ended): `TaskGone`.
    pub gone: Mutex<std::collections::BTreeSet<String>>,
    /// The next this many sends fail as a throttled call would (a lost wake-up).
    pub failing_sends: Mutex<u32>,
}

impl FakeTaskCallbacks {
    /// Takes the tokens delivered since the last call.
    pub fn take_delivered(&self) -> Vec<String> {
        std::mem::take(&mut *self.delivered.lock().unwrap())
            .into_iter()
            .map(|(token, _)| token)
            .collect()
    }
}

#[async_trait]
impl TaskCallbacks for FakeTaskCallbacks {
    async fn succeed(&self, token: &str, output: &str) -> Result<Callback, ServiceError> {
        {
            let mut failing = self.failing_sends.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(ServiceError::Throttled {
                    service: "Step Functions",
                    operation: "SendTaskSuccess",
                    message: "Rate exceeded".into(),
                });
            }
        }
        let mut gone = self.gone.lock().unwrap();
        if !gone.insert(token.to_owned()) {
            return Ok(Callback::TaskGone);
        }
        // A token is answered once: it is gone from now on.
        self.delivered
            .lock()
            .unwrap()
            .push((token.to_owned(), output.to_owned()));
        Ok(Callback::Delivered)
    }
}

/// Quota limits set by the test.
pub struct FakeLimits(pub Mutex<QuotaLimits>);

impl FakeLimits {
    pub fn new(json: &str) -> Self {
        Self(Mutex::new(QuotaLimits::parse(json).expect("valid test limits")))
    }
}

#[async_trait]
impl LimitSource for FakeLimits {
    async fn limits(&self) -> Result<Result<QuotaLimits, String>, ServiceError> {
        Ok(Ok(self.0.lock().unwrap().clone()))
    }
}

/// A resource the fake service holds.
#[derive(Debug, Clone)]
pub struct FakeResource {
    pub spec: ResourceSpec,
    pub observed: Observed,
}

/// SageMaker or Personalize in memory. Created jobs run until the test moves them on
/// (`set_state`); other resources are ready at once.
#[derive(Default)]
pub struct FakeMlService {
    pub resources: Mutex<BTreeMap<String, FakeResource>>,
    /// Jobs running outside recoflow.
    pub external: Mutex<Vec<ServiceJob>>,
    /// The next creates answer "refused" (quota or throttling).
    pub refuse_creates: Mutex<u32>,
    /// Every create answers "invalid" with this reason.
    pub invalid_create: Mutex<Option<String>>,
    pub stopped: Mutex<Vec<String>>,
    pub create_calls: Mutex<u32>,
}

impl FakeMlService {
    pub fn set_state(&self, name: &str, state: ResourceState, reason: Option<&str>, platform_failure: bool) {
        let mut resources = self.resources.lock().unwrap();
        let resource = resources
            .get_mut(name)
            .unwrap_or_else(|| panic!("{name} was never created"));
        resource.observed.state = state;
        resource.observed.reason = reason.map(str::to_owned);
        resource.observed.platform_failure = platform_failure;
    }

    pub fn names(&self) -> Vec<String> {
        self.resources.lock().unwrap().keys().cloned().collect()
    }

    pub fn spec(&self, name: &str) -> Option<ResourceSpec> {
        self.resources.lock().unwrap().get(name).map(|r| r.spec.clone())
    }

    /// Every job the fake holds in the running state, with 1 unit each.
    fn running(&self) -> Vec<ServiceJob> {
        self.resources
            .lock()
            .unwrap()
            .values()
            .filter(|r| r.spec.kind().is_job() && r.observed.state == ResourceState::Running)
            .map(|r| ServiceJob {
                name: r.spec.name().to_owned(),
                units: 1,
            })
            .collect()
    }
}

#[async_trait]
impl MlService for FakeMlService {
    async fn in_progress(
        &self,
        _pool: &Pool,
        _recoflow_prefixes: &[String],
    ) -> Result<Vec<ServiceJob>, ServiceError> {
        let mut jobs = self.running();
        jobs.extend(self.external.lock().unwrap().iter().cloned());
        Ok(jobs)
    }

    async fn describe(&self, spec: &ResourceSpec) -> Result<Option<Observed>, ServiceError> {
        Ok(self
            .resources
            .lock()
            .unwrap()
            .get(spec.name())
            .map(|r| r.observed.clone()))
    }

    async fn create(&self, spec: &ResourceSpec) -> Result<CreateOutcome, CreateError> {
        *self.create_calls.lock().unwrap() += 1;
        if let Some(reason) = self.invalid_create.lock().unwrap().clone() {
            return Err(CreateError::Invalid(reason));
        }
        {
            let mut refuse = self.refuse_creates.lock().unwrap();
            if *refuse > 0 {
                *refuse -= 1;
                return Err(CreateError::Refused(
                    "ResourceLimitExceeded: the account-level service limit is reached".into(),
                ));
            }
        }
        let mut resources = self.resources.lock().unwrap();
        if resources.contains_key(spec.name()) {
            return Ok(CreateOutcome::AlreadyExists);
        }
        let arn = format!("arn:aws:fake:::{}/{}", spec.kind().is_job(), spec.name());
        let state = if spec.kind().is_job() {
            ResourceState::Running
        } else {
            ResourceState::Succeeded
        };
        let mut observed = Observed::in_state(state);
        observed.arn = Some(arn.clone());
        if matches!(spec, ResourceSpec::TrainingJob(_)) {
            observed.model_artifacts = Some(format!("s3://results/{}/model.tar.gz", spec.name()));
        }
        resources.insert(
            spec.name().to_owned(),
            FakeResource {
                spec: spec.clone(),
                observed,
            },
        );
        Ok(CreateOutcome::Created { arn: Some(arn) })
    }

    async fn observe(&self, resource: &LaunchedResource) -> Result<Option<Observed>, ServiceError> {
        Ok(self
            .resources
            .lock()
            .unwrap()
            .get(&resource.name)
            .map(|r| r.observed.clone()))
    }

    async fn stop(&self, resource: &LaunchedResource) -> Result<(), ServiceError> {
        self.stopped.lock().unwrap().push(resource.name.clone());
        if let Some(r) = self.resources.lock().unwrap().get_mut(&resource.name) {
            if r.observed.state == ResourceState::Running {
                r.observed.state = ResourceState::Stopped;
            }
        }
        Ok(())
    }
}

/// The recommendations table in memory. `put_lists` can be told to fail one of its calls, as
/// a table that throttles past the retry budget would.
#[derive(Default)]
pub struct FakeRecommendations {
    pub lists: Mutex<BTreeMap<String, StoredList>>,
    pub pointers: Mutex<BTreeMap<String, Pointer>>,
    /// Version records by (result set, version); result-set entries by name.
    pub versions: Mutex<BTreeMap<(String, String), VersionRecord>>,
    pub entries: Mutex<BTreeMap<String, ResultSetEntry>>,
    /// The jobs table a publish is conditioned on (the version's job must be `DELIVERING`);
    /// `None` for tests that only read.
    pub jobs: Option<Arc<FakeJobStore>>,
    /// The `put_lists` call (1-based, counting every call) that fails.
    pub fail_put_call: Mutex<Option<u32>>,
    pub put_calls: Mutex<u32>,
    pub get_calls: Mutex<u32>,
}

impl FakeRecommendations {
    /// A table whose publishes are conditioned on these jobs' statuses, as the real one is on
    /// the jobs table.
    pub fn publishing_for(jobs: Arc<FakeJobStore>) -> Self {
        Self {
            jobs: Some(jobs),
            ..Self::default()
        }
    }
}

/// The page of `items` (in order) after the one whose key is `after`, and the next cursor.
fn page<T: Clone>(items: Vec<(String, T)>, limit: u32, after: Option<&str>) -> Page<T> {
    let start = after.map_or(0, |a| {
        items
            .iter()
            .position(|(k, _)| k == a)
            .map_or(items.len(), |i| i + 1)
    });
    let taken: Vec<(String, T)> = items.into_iter().skip(start).take(limit as usize + 1).collect();
    let more = taken.len() > limit as usize;
    let page: Vec<(String, T)> = taken.into_iter().take(limit as usize).collect();
    let next = more.then(|| page.last().map(|(k, _)| k.clone())).flatten();
    (page.into_iter().map(|(_, v)| v).collect(), next)
}

#[async_trait]
impl VersionStore for FakeRecommendations {
    async fn put_version(&self, record: &VersionRecord) -> Result<(), ServiceError> {
        let key = (record.version_of.clone(), record.version.clone());
        self.versions.lock().unwrap().insert(key, record.clone());
        Ok(())
    }

    async fn version(&self, result_set: &str, version: &str) -> Result<Option<VersionRecord>, ServiceError> {
        let key = (result_set.to_owned(), version.to_owned());
        Ok(self.versions.lock().unwrap().get(&key).cloned())
    }

    async fn versions(
        &self,
        result_set: &str,
        limit: u32,
        after: Option<&str>,
    ) -> Result<Page<VersionRecord>, ServiceError> {
        let newest_first: Vec<(String, VersionRecord)> = self
            .versions
            .lock()
            .unwrap()
            .iter()
            .rev()
            .filter(|((rs, _), _)| rs == result_set)
            .map(|((_, v), r)| (v.clone(), r.clone()))
            .collect();
        Ok(page(newest_first, limit, after))
    }

    async fn put_entry(&self, entry: &ResultSetEntry) -> Result<(), ServiceError> {
        self.entries
            .lock()
            .unwrap()
            .insert(entry.result_set.clone(), entry.clone());
        Ok(())
    }

    async fn entry(&self, result_set: &str) -> Result<Option<ResultSetEntry>, ServiceError> {
        Ok(self.entries.lock().unwrap().get(result_set).cloned())
    }

    async fn entries(&self, limit: u32, after: Option<&str>) -> Result<Page<ResultSetEntry>, ServiceError> {
        let by_name: Vec<(String, ResultSetEntry)> = self
            .entries
            .lock()
            .unwrap()
            .iter()
            .map(|(k, e)| (k.clone(), e.clone()))
            .collect();
        Ok(page(by_name, limit, after))
    }

    async fn switch_pointer(
        &self,
        pointer: &Pointer,
        expected: Option<&str>,
    ) -> Result<PointerSwitch, ServiceError> {
        let mut pointers = self.pointers.lock().unwrap();
        let current = pointers.get(&pointer.result_set).map(|p| p.version.clone());
        if current.as_deref() != expected {
            return Ok(PointerSwitch::Moved { current });
        }
        pointers.insert(pointer.result_set.clone(), pointer.clone());
        Ok(PointerSwitch::Switched)
    }

    async fn note_stale_alert(&self, result_set: &str, version: &str) -> Result<bool, ServiceError> {
        let mut entries = self.entries.lock().unwrap();
        let Some(entry) = entries.get_mut(result_set) else {
            return Ok(false);
        };
        if entry.stale_alert_for.as_deref() == Some(version) {
            return Ok(false);
        }
        entry.stale_alert_for = Some(version.to_owned());
        Ok(true)
    }

    async fn note_last_job(
        &self,
        result_set: &str,
        job_id: &JobId,
        status: JobStatus,
    ) -> Result<(), ServiceError> {
        let mut entries = self.entries.lock().unwrap();
        if let Some(entry) = entries
            .get_mut(result_set)
            .filter(|e| e.last_job.job_id == *job_id)
        {
            entry.last_job.status = status;
        }
        Ok(())
    }
}

#[async_trait]
impl RecommendationStore for FakeRecommendations {
    async fn put_lists(&self, lists: Vec<StoredList>) -> Result<(), ServiceError> {
        let call = {
            let mut calls = self.put_calls.lock().unwrap();
            *calls += 1;
            *calls
        };
        {
            if *self.fail_put_call.lock().unwrap() == Some(call) {
                return Err(ServiceError::Throttled {
                    service: "DynamoDB",
                    operation: "BatchWriteItem",
                    message: "ProvisionedThroughputExceededException: retries used up".into(),
                });
            }
        }
        let mut stored = self.lists.lock().unwrap();
        for list in lists {
            stored.insert(list.pk.clone(), list);
        }
        Ok(())
    }

    async fn get_lists(&self, keys: &[String]) -> Result<HashMap<String, StoredList>, ServiceError> {
        *self.get_calls.lock().unwrap() += 1;
        let stored = self.lists.lock().unwrap();
        Ok(keys
            .iter()
            .filter_map(|k| stored.get(k).map(|l| (k.clone(), l.clone())))
            .collect())
    }

    async fn pointer(&self, result_set: &str) -> Result<Option<Pointer>, ServiceError> {
        *self.get_calls.lock().unwrap() += 1;
        Ok(self.pointers.lock().unwrap().get(result_set).cloned())
    }

    async fn publish(&self, pointer: &Pointer) -> Result<Published, ServiceError> {
        // As the adapter's transaction: the job's check and mark, the pointer's put, all or none.
        let mut records = self.jobs.as_ref().map(|jobs| jobs.records.lock().unwrap());
        if let Some(records) = &records {
            let status = records.get(&pointer.job_id).map(|r| r.status);
            if status != Some(JobStatus::Delivering) {
                return Ok(Published::JobNotDelivering { status });
            }
        }
        let mut pointers = self.pointers.lock().unwrap();
        match pointers.get(&pointer.result_set) {
            Some(current) if current.version > pointer.version => Ok(Published::Superseded {
                current: current.version.clone(),
            }),
            _ => {
                if let Some(record) = records.as_mut().and_then(|r| r.get_mut(&pointer.job_id)) {
                    record.made_current = Some(pointer.version.clone());
                }
                pointers.insert(pointer.result_set.clone(), pointer.clone());
                Ok(Published::Switched)
            }
        }
    }
}

/// One fold window: start, messages sent, error, cause, failures held for the summary.
type FoldWindow = (i64, u32, String, String, Vec<String>);

/// Fold windows in memory, by the DynamoDB adapter's rules; time is given by the test.
#[derive(Default)]
pub struct FakeFolds {
    pub windows: Mutex<HashMap<String, FoldWindow>>,
    pub now: Mutex<i64>,
}

#[async_trait]
impl FoldStore for FakeFolds {
    async fn count_failure(
        &self,
        signature: &str,
        job_id: &JobId,
        error: &str,
        cause: &str,
        window_seconds: u32,
        max_messages: u32,
    ) -> Result<FoldOutcome, ServiceError> {
        let now = *self.now.lock().unwrap();
        let mut windows = self.windows.lock().unwrap();
        let window = windows.entry(signature.to_owned()).or_insert((
            i64::MIN,
            0,
            String::new(),
            String::new(),
            Vec::new(),
        ));
        if window.0 == i64::MIN || window.0 <= now - i64::from(window_seconds) {
            *window = (
                now,
                1,
                error.to_owned(),
                cause.to_owned(),
                std::mem::take(&mut window.4),
            );
            return Ok(FoldOutcome::Send);
        }
        if window.1 < max_messages {
            window.1 += 1;
            return Ok(FoldOutcome::Send);
        }
        window.4.push(job_id.to_string());
        Ok(FoldOutcome::Folded {
            closes_in: (window.0 + i64::from(window_seconds) - now).clamp(1, i64::from(window_seconds))
                as u32,
        })
    }

    async fn take_folded(&self, signature: &str) -> Result<Option<FoldedFailures>, ServiceError> {
        let mut windows = self.windows.lock().unwrap();
        Ok(windows.get_mut(signature).and_then(|w| {
            (!w.4.is_empty()).then(|| FoldedFailures {
                error: w.2.clone(),
                cause: w.3.clone(),
                job_ids: std::mem::take(&mut w.4),
            })
        }))
    }
}

/// A webhook URL, or none.
pub struct FakeSecret(pub Option<String>);

#[async_trait]
impl SecretSource for FakeSecret {
    async fn secret(&self) -> Result<Option<String>, ServiceError> {
        Ok(self.0.clone())
    }
}

/// Answers posts from a script (then 200 ok), and keeps what was posted.
#[derive(Default)]
pub struct FakePoster {
    pub script: Mutex<std::collections::VecDeque<Result<WebhookReply, String>>>,
    pub posted: Mutex<Vec<serde_json::Value>>,
}

impl FakePoster {
    pub fn reply(status: u16, body: &str, retry_after: Option<&str>) -> Result<WebhookReply, String> {
        Ok(WebhookReply {
            status,
            body: body.to_owned(),
            retry_after: retry_after.map(str::to_owned),
        })
    }

    pub fn then(&self, reply: Result<WebhookReply, String>) -> &Self {
        self.script.lock().unwrap().push_back(reply);
        self
    }

    pub fn posted(&self) -> Vec<serde_json::Value> {
        self.posted.lock().unwrap().clone()
    }
}

#[async_trait]
impl WebhookPoster for FakePoster {
    async fn post(&self, _url: &str, body: &serde_json::Value) -> Result<WebhookReply, String> {
        self.posted.lock().unwrap().push(body.clone());
        self.script
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Self::reply(200, "ok", None))
    }
}

/// Time that passes only when slept (or advanced), instantly: wall-clock and monotonic time
/// move together.
pub struct FakeClock {
    start: std::time::Instant,
    start_utc: time::OffsetDateTime,
    pub slept: Mutex<std::time::Duration>,
}

impl Default for FakeClock {
    fn default() -> Self {
        Self {
            start: std::time::Instant::now(),
            start_utc: time::OffsetDateTime::now_utc(),
            slept: Mutex::new(std::time::Duration::ZERO),
        }
    }
}

impl FakeClock {
    /// Lets time pass without anyone sleeping (a lease running out, a phase running long).
    pub fn advance(&self, duration: std::time::Duration) {
        *self.slept.lock().unwrap() += duration;
    }
}

#[async_trait]
impl Clock for FakeClock {
    fn now(&self) -> std::time::Instant {
        self.start + *self.slept.lock().unwrap()
    }

    fn utc(&self) -> time::OffsetDateTime {
        self.start_utc + *self.slept.lock().unwrap()
    }

    async fn sleep(&self, duration: std::time::Duration) {
        self.advance(duration);
    }
}

/// The schedules table: conditional create, and replace only at the revision read.
#[derive(Default)]
pub struct FakeScheduleStore {
    pub records: Mutex<BTreeMap<crate::schedule::ScheduleId, crate::schedule::ScheduleRecord>>,
    /// The next this many replaces lose to another writer (the record is bumped meanwhile).
    pub losing_replaces: Mutex<u32>,
}

impl FakeScheduleStore {
    pub fn record(&self, id: &str) -> Option<crate::schedule::ScheduleRecord> {
        let id = crate::schedule::ScheduleId::parse(id)?;
        self.records.lock().unwrap().get(&id).cloned()
    }

    pub fn insert(&self, record: crate::schedule::ScheduleRecord) {
        self.records
            .lock()
            .unwrap()
            .insert(record.schedule_id.clone(), record);
    }
}

#[async_trait]
impl crate::schedule::ports::ScheduleStore for FakeScheduleStore {
    async fn get(
        &self,
        id: &crate::schedule::ScheduleId,
    ) -> Result<Option<crate::schedule::ScheduleRecord>, ServiceError> {
        Ok(self.records.lock().unwrap().get(id).cloned())
    }

    async fn create(
        &self,
        record: &crate::schedule::ScheduleRecord,
    ) -> Result<crate::schedule::ports::ScheduleCreated, ServiceError> {
        use crate::schedule::ports::ScheduleCreated;
        let mut records = self.records.lock().unwrap();
        if let Some(existing) = records.get(&record.schedule_id) {
            return Ok(ScheduleCreated::AlreadyExists(Box::new(existing.clone())));
        }
        records.insert(record.schedule_id.clone(), record.clone());
        Ok(ScheduleCreated::New)
    }

    async fn replace(
        &self,
        record: &crate::schedule::ScheduleRecord,
        read_revision: u64,
    ) -> Result<bool, ServiceError> {
        Ok(replace_at_revision(
            &self.records,
            &self.losing_replaces,
            &record.schedule_id,
            record,
            read_revision,
        ))
    }

    async fn recent(
        &self,
        limit: u32,
        after: Option<&str>,
    ) -> Result<(Vec<crate::schedule::ScheduleRecord>, Option<String>), ServiceError> {
        Ok(recent_page(&self.records, limit, after))
    }
}

/// A record of a table changed by one conditional write on its revision and listed newest first
/// by `<created_at>~<id>` (the schedules and triggers tables), as the fakes keep them.
pub trait RevisionedRecord: Clone {
    fn revision_mut(&mut self) -> &mut u64;
    /// Where it stands in the listing, and the cursor after it.
    fn cursor(&self) -> String;
    /// In the listing (a deleted record is not).
    fn listed(&self) -> bool;
}

impl RevisionedRecord for crate::schedule::ScheduleRecord {
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
    fn cursor(&self) -> String {
        format!("{}~{}", self.created_at, self.schedule_id)
    }
    fn listed(&self) -> bool {
        self.listing.is_some()
    }
}

impl RevisionedRecord for crate::trigger::TriggerRecord {
    fn revision_mut(&mut self) -> &mut u64 {
        &mut self.revision
    }
    fn cursor(&self) -> String {
        format!("{}~{}", self.created_at, self.trigger_id)
    }
    fn listed(&self) -> bool {
        self.listing.is_some()
    }
}

/// Writes `record` over the stored one only if that is still at `read_revision`; while
/// `losing` counts down, another writer is first (the stored record is bumped instead).
pub fn replace_at_revision<K: Ord, R: RevisionedRecord>(
    records: &Mutex<BTreeMap<K, R>>,
    losing: &Mutex<u32>,
    key: &K,
    record: &R,
    read_revision: u64,
) -> bool {
    let mut records = records.lock().unwrap();
    let Some(stored) = records.get_mut(key) else {
        return false;
    };
    let mut losing = losing.lock().unwrap();
    if *losing > 0 {
        *losing -= 1;
        *stored.revision_mut() += 1;
        return false;
    }
    if *stored.revision_mut() != read_revision {
        return false;
    }
    *stored = record.clone();
    true
}

/// The listed records newest first: at most `limit` after the cursor `after`, and the next
/// page's cursor.
pub fn recent_page<K, R: RevisionedRecord>(
    records: &Mutex<BTreeMap<K, R>>,
    limit: u32,
    after: Option<&str>,
) -> (Vec<R>, Option<String>) {
    let mut listed: Vec<R> = records
        .lock()
        .unwrap()
        .values()
        .filter(|r| r.listed())
        .cloned()
        .collect();
    listed.sort_by_key(|r| std::cmp::Reverse(r.cursor()));
    let start = after
        .and_then(|after| listed.iter().position(|r| r.cursor() == after))
        .map_or(0, |i| i + 1);
    let page: Vec<R> = listed.iter().skip(start).take(limit as usize).cloned().collect();
    let next = (start + page.len() < listed.len())
        .then(|| page.last().map(R::cursor))
        .flatten();
    (page, next)
}

/// EventBridge Scheduler: schedules by name, as they were last written.
#[derive(Default)]
pub struct FakeScheduler {
    pub schedules: Mutex<BTreeMap<String, crate::schedule::ports::SchedulerSchedule>>,
    /// Calls made, in order: `create <name>`, `update <name>`, `delete <name>`.
    pub calls: Mutex<Vec<String>>,
    /// The next this many calls fail.
    pub failing: Mutex<u32>,
}

impl FakeScheduler {
    pub fn schedule(&self, name: &str) -> Option<crate::schedule::ports::SchedulerSchedule> {
        self.schedules.lock().unwrap().get(name).cloned()
    }

    /// CreateSchedule calls made (repeats included).
    pub fn creates(&self) -> usize {
        self.calls
            .lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with("create "))
            .count()
    }

    fn call(&self, what: String) -> Result<(), ServiceError> {
        let mut failing = self.failing.lock().unwrap();
        if *failing > 0 {
            *failing -= 1;
            return Err(unavailable("EventBridge Scheduler", "CreateSchedule"));
        }
        self.calls.lock().unwrap().push(what);
        Ok(())
    }
}

#[async_trait]
impl crate::schedule::ports::Scheduler for FakeScheduler {
    async fn create(
        &self,
        schedule: &crate::schedule::ports::SchedulerSchedule,
    ) -> Result<crate::schedule::ports::SchedulerWrite, ServiceError> {
        use crate::schedule::ports::SchedulerWrite;
        self.call(format!("create {}", schedule.name))?;
        let mut schedules = self.schedules.lock().unwrap();
        if schedules.contains_key(&schedule.name) {
            return Ok(SchedulerWrite::AlreadyExists);
        }
        schedules.insert(schedule.name.clone(), schedule.clone());
        Ok(SchedulerWrite::Done)
    }

    async fn update(
        &self,
        schedule: &crate::schedule::ports::SchedulerSchedule,
    ) -> Result<crate::schedule::ports::SchedulerWrite, ServiceError> {
        use crate::schedule::ports::SchedulerWrite;
        self.call(format!("update {}", schedule.name))?;
        let mut schedules = self.schedules.lock().unwrap();
        match schedules.get_mut(&schedule.name) {
            Some(stored) => {
                *stored = schedule.clone();
                Ok(SchedulerWrite::Done)
            }
            None => Ok(SchedulerWrite::NotFound),
        }
    }

    async fn delete(&self, name: &str) -> Result<crate::schedule::ports::SchedulerWrite, ServiceError> {
        use crate::schedule::ports::SchedulerWrite;
        self.call(format!("delete {name}"))?;
        Ok(match self.schedules.lock().unwrap().remove(name) {
            Some(_) => SchedulerWrite::Done,
            None => SchedulerWrite::NotFound,
        })
    }
}

/// The ports of starting and submitting jobs and schedules, all fakes.
#[derive(Default)]
pub struct FakeSubmitPorts {
    pub jobs: FakeJobStore,
    pub executions: FakeExecutions,
    pub schedules: FakeScheduleStore,
    pub scheduler: FakeScheduler,
    pub triggers: FakeTriggerStore,
    pub checks: FakeTriggerChecks,
    /// The data bucket a trigger reads its files' heads from.
    pub objects: FakeObjects,
    pub clock: FakeClock,
}

impl crate::trigger::ports::TriggerPorts for FakeSubmitPorts {
    type Checks = FakeTriggerChecks;
    type Objects = FakeObjects;

    fn checks(&self) -> &Self::Checks {
        &self.checks
    }
    fn objects(&self) -> &Self::Objects {
        &self.objects
    }
}

impl crate::schedule::firing::FiringPorts for FakeSubmitPorts {
    type Jobs = FakeJobStore;
    type Executions = FakeExecutions;
    type Schedules = FakeScheduleStore;
    type Triggers = FakeTriggerStore;
    type Clock = FakeClock;

    fn triggers(&self) -> &Self::Triggers {
        &self.triggers
    }

    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
    fn executions(&self) -> &Self::Executions {
        &self.executions
    }
    fn schedules(&self) -> &Self::Schedules {
        &self.schedules
    }
    fn clock(&self) -> &Self::Clock {
        &self.clock
    }
}

impl crate::submit::SubmitPorts for FakeSubmitPorts {
    type Scheduler = FakeScheduler;

    fn scheduler(&self) -> &Self::Scheduler {
        &self.scheduler
    }
}
