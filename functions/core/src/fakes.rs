//! In-memory fakes of the ports, for handler unit tests (feature `fakes`). They follow the
//! same rules as the real adapters: conditional create, legal transitions only.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;

use crate::errors::ServiceError;
use crate::job::{now_rfc3339, JobId, JobRecord, JobStatus, StatusChange};
use crate::ports::{
    Created, ExecutionStart, ExecutionStarter, JobStore, ObjectHead, ObjectRead, ObjectStore,
    TransitionError, TransitionExtras,
};

#[derive(Default)]
pub struct FakeJobStore {
    pub records: Mutex<BTreeMap<JobId, JobRecord>>,
}

impl FakeJobStore {
    pub fn record(&self, job_id: &JobId) -> Option<JobRecord> {
        self.records.lock().unwrap().get(job_id).cloned()
    }

    /// Adds a QUEUED job with this form, as intake or the API would have left it.
    pub fn insert_queued(&self, job_id: &str, form: crate::form::JobForm) -> JobId {
        let job_id = JobId::parse(job_id).expect("a valid job id");
        let source = crate::job::JobSource::Api {
            idempotency_key: None,
        };
        let record = JobRecord::queued(job_id.clone(), source, form, "digest".into(), &now_rfc3339());
        self.records.lock().unwrap().insert(job_id.clone(), record);
        job_id
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
        let mut records = self.records.lock().unwrap();
        let record = records
            .get_mut(job_id)
            .ok_or_else(|| TransitionError::NotFound(job_id.clone()))?;
        if !record.status.can_move_to(to) {
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
        Ok(())
    }

    async fn set_execution_arn(&self, job_id: &JobId, execution_arn: &str) -> Result<(), ServiceError> {
        if let Some(record) = self.records.lock().unwrap().get_mut(job_id) {
            record.execution_arn = Some(execution_arn.to_owned());
        }
        Ok(())
    }
}

/// Remembers every execution started; a second start with the same name is `AlreadyExists`.
#[derive(Default)]
pub struct FakeExecutions {
    pub started: Mutex<Vec<(JobId, String)>>,
    /// When set, every start fails with this throttling error.
    pub throttle: Mutex<bool>,
}

#[async_trait]
impl ExecutionStarter for FakeExecutions {
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
}

#[derive(Default)]
pub struct FakeObjects {
    pub objects: Mutex<HashMap<(String, String), Vec<u8>>>,
}

impl FakeObjects {
    pub fn insert(&self, bucket: &str, key: &str, body: impl Into<Vec<u8>>) {
        self.objects
            .lock()
            .unwrap()
            .insert((bucket.to_owned(), key.to_owned()), body.into());
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
        }))
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

    async fn copy(&self, bucket: &str, from_key: &str, to_key: &str) -> Result<(), ServiceError> {
        let body = self.get(bucket, from_key).ok_or_else(|| ServiceError::Failed {
            service: "S3",
            operation: "CopyObject",
            message: "NoSuchKey".to_owned(),
        })?;
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
}
