//! What clients see of a job. Allow-lists: a field added to the record stays internal until it
//! is named here.

use std::collections::BTreeMap;

use recoflow_core::delivery::Delivery;
use recoflow_core::form::JobForm;
use recoflow_core::job::{
    Cancellation, JobFailure, JobId, JobRecord, JobSource, JobStatus, Notification, StatusChange,
};
use recoflow_core::phase::{LaunchedResource, ResourceKind, ResourceState};
use recoflow_core::quota_queue::QuotaWait;
use recoflow_core::validation::FormProblem;
use serde::Serialize;

/// A job in a list (`GET /jobs`): what a person scanning jobs needs, no more.
#[derive(Serialize)]
pub struct JobSummary<'a> {
    job_id: &'a JobId,
    job_name: Option<&'a str>,
    status: JobStatus,
    status_since: &'a str,
    created_at: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    submitted_by: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    result_set: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a JobFailure>,
    /// The job that retried this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    retried_by: Option<&'a JobId>,
}

impl<'a> JobSummary<'a> {
    pub fn of(record: &'a JobRecord) -> Self {
        let form = record.form.as_ref();
        Self {
            job_id: &record.job_id,
            job_name: record.job_name.as_deref(),
            status: record.status,
            status_since: record.status_since(),
            created_at: &record.created_at,
            submitted_by: form.map(|f| f.submitted_by.as_str()),
            result_set: form.map(|f| f.result_set.as_str()),
            failure: record.failure.as_ref(),
            retried_by: record.retried_by.as_ref(),
        }
    }
}

/// A job whole (`GET /jobs/{id}`).
#[derive(Serialize)]
pub struct JobView<'a> {
    job_id: &'a JobId,
    job_name: Option<&'a str>,
    status: JobStatus,
    /// When the job entered its current status.
    status_since: &'a str,
    history: &'a [StatusChange],
    created_at: &'a str,
    updated_at: &'a str,
    source: &'a JobSource,
    #[serde(skip_serializing_if = "Option::is_none")]
    form: Option<&'a JobForm>,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    problems: &'a [FormProblem],
    #[serde(skip_serializing_if = "Option::is_none")]
    execution_arn: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    failure: Option<&'a JobFailure>,
    #[serde(skip_serializing_if = "Option::is_none")]
    cancellation: Option<&'a Cancellation>,
    /// A retry: the job it retries (its source says from which phase).
    #[serde(skip_serializing_if = "Option::is_none")]
    retry_of: Option<&'a JobId>,
    /// The job that retried this one.
    #[serde(skip_serializing_if = "Option::is_none")]
    retried_by: Option<&'a JobId>,
    /// Which upload of each data file Prepare read (version id, ETag, size).
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    data_versions: &'a [recoflow_core::data_version::DataVersion],
    /// Why a `SKIPPED` job never ran, and the job it deferred to.
    #[serde(skip_serializing_if = "Option::is_none")]
    skipped: Option<&'a recoflow_core::job::Skipped>,
    /// The quality gate's verdict on the job's version: passed, or each failed rule.
    #[serde(skip_serializing_if = "Option::is_none")]
    gate: Option<&'a recoflow_core::quality::GateOutcome>,
    #[serde(skip_serializing_if = "Option::is_none")]
    users_to_score: Option<u64>,
    /// Whether Slack was told (`DELIVERED`, `UNDELIVERED` and why, `FOLDED` into a summary).
    #[serde(skip_serializing_if = "Option::is_none")]
    notification: Option<&'a Notification>,
    /// Where publishing the results stands: the version being written (served once
    /// `published`) and how far it got.
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery: Option<DeliveryView<'a>>,
    counts: &'a BTreeMap<String, u64>,
    /// A container job's network access: off unless the form turned it on, and why.
    #[serde(skip_serializing_if = "Option::is_none")]
    network_isolation: Option<NetworkIsolationView<'a>>,
    /// Everything the job launched, oldest first.
    resources: Vec<ResourceView<'a>>,
    /// A job waiting for quota: the pool, its place in the pool's queue, the pool's holders.
    #[serde(skip_serializing_if = "Option::is_none")]
    quota_wait: Option<QuotaWait>,
}

#[derive(Serialize)]
struct NetworkIsolationView<'a> {
    enabled: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    reason: Option<&'a str>,
}

impl<'a> JobView<'a> {
    /// The view of `record`, its console links in `region`.
    pub fn of(record: &'a JobRecord, region: &str) -> Self {
        let mut resources: Vec<ResourceView<'a>> = record
            .resources
            .values()
            .map(|resource| ResourceView {
                resource,
                console_url: console_url(resource, region),
            })
            .collect();
        resources.sort_by(|a, b| (a.resource.phase, &a.resource.at).cmp(&(b.resource.phase, &b.resource.at)));
        Self {
            job_id: &record.job_id,
            job_name: record.job_name.as_deref(),
            status: record.status,
            status_since: record.status_since(),
            history: &record.history,
            created_at: &record.created_at,
            updated_at: &record.updated_at,
            source: &record.source,
            form: record.form.as_ref(),
            problems: &record.problems,
            execution_arn: record.execution_arn.as_deref(),
            failure: record.failure.as_ref(),
            cancellation: record.cancellation.as_ref(),
            retry_of: record.retry_of(),
            retried_by: record.retried_by.as_ref(),
            data_versions: &record.data_versions,
            skipped: record.skipped.as_ref(),
            gate: record.gate.as_ref(),
            users_to_score: record.prepared.as_ref().map(|p| p.users_to_score),
            notification: record.notification.as_ref(),
            delivery: record.delivery.as_ref().map(DeliveryView::of),
            counts: &record.counts,
            network_isolation: record.form.as_ref().and_then(|f| f.container.as_ref()).map(|c| {
                NetworkIsolationView {
                    enabled: c.network_isolation,
                    reason: c.network_isolation_reason.as_deref(),
                }
            }),
            resources,
            quota_wait: None,
        }
    }

    /// The view with the job's place in the queue it waits in.
    pub fn with_quota_wait(self, quota_wait: Option<QuotaWait>) -> Self {
        Self { quota_wait, ..self }
    }
}

#[derive(Serialize)]
struct DeliveryView<'a> {
    version: &'a str,
    published: bool,
    started_at: &'a str,
    users_delivered: u64,
    lines_skipped: u64,
    segments_published: u64,
    /// Score files delivered, each by its own worker (known once they are all done).
    score_files: u64,
}

impl<'a> DeliveryView<'a> {
    fn of(delivery: &'a Delivery) -> Self {
        Self {
            version: &delivery.version,
            published: delivery.published,
            started_at: &delivery.started_at,
            users_delivered: delivery.users,
            lines_skipped: delivery.skipped,
            segments_published: delivery.segments,
            score_files: delivery.files_read,
        }
    }
}

#[derive(Serialize)]
struct ResourceView<'a> {
    #[serde(flatten)]
    resource: &'a LaunchedResource,
    #[serde(skip_serializing_if = "Option::is_none")]
    console_url: Option<String>,
}

/// The AWS console page of a SageMaker job once it exists (Personalize pages are keyed by ARN
/// in the console's own routing, so they get only their ARN).
fn console_url(resource: &LaunchedResource, region: &str) -> Option<String> {
    let page = match resource.kind {
        ResourceKind::TrainingJob => "jobs",
        ResourceKind::ProcessingJob => "processing-jobs",
        _ => return None,
    };
    (resource.state != ResourceState::Launching).then(|| {
        format!(
            "https://{region}.console.aws.amazon.com/sagemaker/home?region={region}#/{page}/{}",
            resource.name
        )
    })
}

#[cfg(test)]
mod tests {
    use recoflow_core::fakes::test_form;
    use recoflow_core::phase::Phase;

    use super::*;

    fn resource(kind: ResourceKind, name: &str, phase: Phase, state: ResourceState) -> LaunchedResource {
        LaunchedResource {
            phase,
            kind,
            name: name.to_owned(),
            arn: None,
            attempt: 1,
            state,
            at: "2026-12-01T08:00:00.000Z".to_owned(),
            reason: None,
            platform_failure: false,
            reused: None,
        }
    }

    #[test]
    fn sagemaker_jobs_link_to_their_console_page_in_the_region_once_launched() {
        let job_id = JobId::parse("spring-1").unwrap();
        let source = JobSource::Api {
            idempotency_key: None,
        };
        let mut record = JobRecord::queued(
            job_id,
            source,
            test_form("container"),
            "d".into(),
            "2026-12-01T07:00:00.000Z",
        );
        for resource in [
            resource(
                ResourceKind::ProcessingJob,
                "rf-score",
                Phase::Score,
                ResourceState::Running,
            ),
            resource(
                ResourceKind::TrainingJob,
                "rf-train",
                Phase::Train,
                ResourceState::Succeeded,
            ),
            resource(
                ResourceKind::TrainingJob,
                "rf-train-2",
                Phase::Train,
                ResourceState::Launching,
            ),
        ] {
            record.resources.insert(resource.name.clone(), resource);
        }
        let view = serde_json::to_value(JobView::of(&record, "eu-west-1")).unwrap();
        let links: Vec<(&str, Option<&str>)> = view["resources"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| (r["name"].as_str().unwrap(), r["console_url"].as_str()))
            .collect();
        let console = "https://eu-west-1.console.aws.amazon.com/sagemaker/home?region=eu-west-1#";
        assert_eq!(
            links,
            [
                ("rf-train", Some(format!("{console}/jobs/rf-train").as_str())),
                ("rf-train-2", None),
                (
                    "rf-score",
                    Some(format!("{console}/processing-jobs/rf-score").as_str())
                ),
            ],
            "oldest phase first; a job still launching has no page yet"
        );
        assert!(view.get("form_digest").is_none() && view.get("listing").is_none());
    }
}
