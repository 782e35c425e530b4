//! Notify: tells Slack, once and clearly. A failed job's message (state machine failure path),
//! a succeeded job's when its form asks (`notify.on_success`), a rejected form's (the report
//! intake writes under `rejected/` in the forms bucket), and summaries of failures folded
//! together.
//!
//! Delivery: `429` waits `Retry-After`; 5xx and network errors are retried with backoff and full
//! jitter; answers that will not change (`invalid_payload`, `no_service`, `channel_not_found`,
//! 403/404/410) are not retried; the whole is bounded by a budget. A Slack outage never changes a
//! job's outcome: the job record says `UNDELIVERED` and why.
//!
//! No floods: a job's message is sent once (the job record remembers it, so a retried step does
//! not send it again); waiting for quota sends nothing (it is not a failure); and past a few
//! failures of one cause within a window, the rest are folded into one summary naming every job.

use std::time::Duration;

use aws_lambda_events::event::s3::S3Event;
use lambda_runtime::Diagnostic;
use recoflow_aws::lambda::diagnostic;
use recoflow_core::backoff::full_jitter;
use recoflow_core::errors::{ErrorName, NamedError, ServiceError};
use recoflow_core::job::{now_rfc3339, JobId, JobRecord};
use recoflow_core::notification::{
    execution_console_url, failure_message, fold_signature, fold_summary_message, logs_console_url,
    read_answer, rejection_message, success_message, Links, Notification, NotificationState, SlackAnswer,
};
use recoflow_core::ports::{
    Clock, FoldOutcome, FoldStore, JobPatch, JobStore, ObjectRead, ObjectStore, SecretSource, WebhookPoster,
};
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::task::{NotifyOutcome, NotifyTask};
use recoflow_core::validation::FormProblem;
use serde::Deserialize;
use serde_json::Value;
use tracing::{info, warn, Instrument};

pub struct NotifyDeps<J, O, F, W, P, C> {
    pub jobs: J,
    pub objects: O,
    pub folds: F,
    pub webhook: W,
    /// The REST API's base URL (the stack's ApiUrl output, kept in an SSM parameter), for links
    /// to `GET /jobs/{id}`; no link without it.
    pub api_url: W,
    pub poster: P,
    pub clock: C,
    pub settings: NotifySettings,
}

#[derive(Debug, Clone)]
pub struct NotifySettings {
    pub region: String,
    /// Function names by state machine state, for links to the failed function's logs.
    pub functions: Vec<(String, String)>,
    /// Delivery gives up after this long (retries included).
    pub retry_budget: Duration,
    pub fold_window_seconds: u32,
    pub fold_max_messages: u32,
}

/// What the function is invoked with: a state machine task or an S3 event.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum NotifyEvent {
    Task(NotifyTask),
    S3(S3Event),
}

#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    #[error("job {0} does not exist")]
    JobNotFound(JobId),
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl NamedError for NotifyError {
    fn error_name(&self) -> ErrorName {
        match self {
            NotifyError::JobNotFound(_) => ErrorName::JobNotFound,
            NotifyError::Service(e) => e.error_name(),
        }
    }
}

impl From<NotifyError> for Diagnostic {
    fn from(err: NotifyError) -> Self {
        diagnostic(err.error_name(), &err)
    }
}

fn outcome(state: &str) -> NotifyOutcome {
    NotifyOutcome {
        state: state.to_owned(),
        wait_seconds: 0,
        signature: String::new(),
    }
}

/// How one delivery went.
struct Sent {
    delivered: bool,
    attempts: u32,
    last_error: Option<String>,
}

impl<J, O, F, W, P, C> NotifyDeps<J, O, F, W, P, C>
where
    J: JobStore,
    O: ObjectStore,
    F: FoldStore,
    W: SecretSource,
    P: WebhookPoster,
    C: Clock,
{
    /// Posts a message to the webhook within the retry budget.
    async fn deliver(&self, message: &Value) -> Result<Sent, ServiceError> {
        let Some(url) = self.webhook.secret().await? else {
            return Ok(Sent {
                delivered: false,
                attempts: 0,
                last_error: Some(
                    "no Slack webhook is configured (see the stack output SlackWebhookParameter)".into(),
                ),
            });
        };
        let started = self.clock.now();
        let mut attempts = 0;
        loop {
            attempts += 1;
            let (wait, last_error) = match self.poster.post(&url, message).await {
                Ok(reply) => match read_answer(reply.status, &reply.body, reply.retry_after.as_deref()) {
                    SlackAnswer::Delivered => {
                        return Ok(Sent {
                            delivered: true,
                            attempts,
                            last_error: None,
                        })
                    }
                    SlackAnswer::Permanent(why) => {
                        return Ok(Sent {
                            delivered: false,
                            attempts,
                            last_error: Some(format!("{why} (not retried: it would not change)")),
                        })
                    }
                    SlackAnswer::RetryAfter(seconds) => (
                        Duration::from_secs(seconds.max(1)),
                        format!("HTTP 429: rate limited (Retry-After {seconds} s)"),
                    ),
                    SlackAnswer::Transient(why) => {
                        (Duration::from_millis(full_jitter(500, attempts, 30_000)), why)
                    }
                },
                Err(network) => (
                    Duration::from_millis(full_jitter(500, attempts, 30_000)),
                    format!("network: {network}"),
                ),
            };
            let spent = self.clock.now().duration_since(started);
            if spent + wait > self.settings.retry_budget {
                return Ok(Sent {
                    delivered: false,
                    attempts,
                    last_error: Some(format!(
                        "{last_error}; gave up after {attempts} attempt(s) within the {} s retry budget",
                        self.settings.retry_budget.as_secs()
                    )),
                });
            }
            self.clock.sleep(wait).await;
        }
    }

    async fn remember(
        &self,
        job_id: &JobId,
        kind: &str,
        state: NotificationState,
        sent: &Sent,
    ) -> Result<(), ServiceError> {
        let notification = Notification {
            state,
            attempts: sent.attempts,
            last_error: sent.last_error.clone(),
            kind: kind.to_owned(),
            at: now_rfc3339(),
        };
        self.jobs
            .patch(job_id, JobPatch::Notification(notification), None)
            .await?;
        Ok(())
    }

    async fn links(&self, record: &JobRecord) -> Links {
        let state = record
            .failure
            .as_ref()
            .map(|f| f.state.as_str())
            .unwrap_or_default();
        // A link the reader can do without: no answer is no link.
        let api_url = self.api_url.secret().await.ok().flatten().unwrap_or_default();
        Links {
            execution: record
                .execution_arn
                .as_deref()
                .map(|arn| execution_console_url(&self.settings.region, arn)),
            job: (!api_url.is_empty())
                .then(|| format!("{}/jobs/{}", api_url.trim_end_matches('/'), record.job_id)),
            logs: self
                .settings
                .functions
                .iter()
                .find(|(status, _)| status == state)
                .or_else(|| self.settings.functions.first())
                .map(|(_, function)| logs_console_url(&self.settings.region, function)),
        }
    }

    async fn job(&self, job_id: &JobId) -> Result<JobRecord, NotifyError> {
        self.jobs
            .get(job_id)
            .await?
            .ok_or_else(|| NotifyError::JobNotFound(job_id.clone()))
    }

    async fn failure(&self, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
        let record = self.job(job_id).await?;
        if let Some(done) = &record.notification {
            info!(state = ?done.state, "this job's failure was notified already; nothing sent");
            return Ok(outcome("ALREADY_NOTIFIED"));
        }
        let failure = record
            .failure
            .clone()
            .unwrap_or_else(|| recoflow_core::job::JobFailure {
                error: "Unknown".into(),
                cause: String::new(),
                state: String::new(),
            });
        let signature = fold_signature(&failure.error, &failure.cause);
        let decision = self
            .folds
            .count_failure(
                &signature,
                job_id,
                &failure.error,
                &failure.cause,
                self.settings.fold_window_seconds,
                self.settings.fold_max_messages,
            )
            .await?;
        if let FoldOutcome::Folded { closes_in } = decision {
            let folded = Sent {
                delivered: false,
                attempts: 0,
                last_error: None,
            };
            self.remember(job_id, "failure", NotificationState::Folded, &folded)
                .await?;
            info!(signature = %signature, closes_in, "failure folded into the window's summary");
            return Ok(NotifyOutcome {
                state: "FOLDED".into(),
                wait_seconds: closes_in.max(1),
                signature,
            });
        }
        let message = failure_message(&record, ran_seconds(&record), &self.links(&record).await);
        let message = with_channel(message, &record);
        let sent = self.deliver(&message).await?;
        let state = if sent.delivered {
            NotificationState::Delivered
        } else {
            warn!(error = ?sent.last_error, "failure message not delivered");
            NotificationState::Undelivered
        };
        self.remember(job_id, "failure", state, &sent).await?;
        Ok(outcome(if sent.delivered {
            "DELIVERED"
        } else {
            "UNDELIVERED"
        }))
    }

    async fn success(&self, job_id: &JobId) -> Result<NotifyOutcome, NotifyError> {
        let record = self.job(job_id).await?;
        let asked = record
            .form
            .as_ref()
            .and_then(|f| f.notify.as_ref())
            .is_some_and(|n| n.on_success);
        if !asked || record.notification.is_some() {
            return Ok(outcome(if asked { "ALREADY_NOTIFIED" } else { "NOT_ASKED" }));
        }
        let message = with_channel(
            success_message(&record, ran_seconds(&record), &self.links(&record).await),
            &record,
        );
        let sent = self.deliver(&message).await?;
        let state = if sent.delivered {
            NotificationState::Delivered
        } else {
            NotificationState::Undelivered
        };
        self.remember(job_id, "success", state, &sent).await?;
        Ok(outcome(if sent.delivered {
            "DELIVERED"
        } else {
            "UNDELIVERED"
        }))
    }

    async fn summary(&self, signature: &str) -> Result<NotifyOutcome, NotifyError> {
        let Some(folded) = self.folds.take_folded(signature).await? else {
            return Ok(outcome("SUMMARY_SENT_ELSEWHERE"));
        };
        let message = fold_summary_message(
            &folded.error,
            &folded.cause,
            &folded.job_ids,
            self.settings.fold_window_seconds,
        );
        let sent = self.deliver(&message).await?;
        info!(
            jobs = folded.job_ids.len(),
            delivered = sent.delivered,
            "summary of folded failures"
        );
        for job_id in folded.job_ids.iter().filter_map(|id| JobId::parse(id)) {
            self.remember(&job_id, "failure", NotificationState::Folded, &sent)
                .await?;
        }
        Ok(outcome(if sent.delivered {
            "SUMMARY_DELIVERED"
        } else {
            "SUMMARY_UNDELIVERED"
        }))
    }

    /// A rejection report written by intake (`rejected/<form>.errors.json`).
    async fn rejection(&self, bucket: &str, key: &str) -> Result<NotifyOutcome, NotifyError> {
        #[derive(Deserialize)]
        struct Report {
            job_id: JobId,
            form: String,
            problems: Vec<FormProblem>,
        }
        let body = match self.objects.read_limited(bucket, key, None, 1024 * 1024).await? {
            ObjectRead::Body(body) => body,
            ObjectRead::TooLarge { .. } | ObjectRead::Missing => return Ok(outcome("NO_REPORT")),
        };
        let Ok(report) = serde_json::from_slice::<Report>(&body) else {
            warn!(key, "not a rejection report; nothing sent");
            return Ok(outcome("NO_REPORT"));
        };
        let record = self.job(&report.job_id).await?;
        if record.notification.is_some() {
            return Ok(outcome("ALREADY_NOTIFIED"));
        }
        let report_uri = format!("s3://{bucket}/{key}");
        let message = rejection_message(&report.job_id, &report.form, &report_uri, &report.problems);
        let sent = self.deliver(&message).await?;
        let state = if sent.delivered {
            NotificationState::Delivered
        } else {
            NotificationState::Undelivered
        };
        self.remember(&report.job_id, "rejection", state, &sent).await?;
        Ok(outcome(if sent.delivered {
            "DELIVERED"
        } else {
            "UNDELIVERED"
        }))
    }
}

/// A form's `notify.slack_channel`, for webhooks that honour a channel override.
fn with_channel(mut message: Value, record: &JobRecord) -> Value {
    if let Some(channel) = record
        .form
        .as_ref()
        .and_then(|f| f.notify.as_ref())
        .and_then(|n| n.slack_channel.clone())
    {
        message["channel"] = Value::String(channel);
    }
    message
}

/// Seconds from the job's creation to its last status change.
fn ran_seconds(record: &JobRecord) -> u64 {
    let parse =
        |at: &str| time::OffsetDateTime::parse(at, &time::format_description::well_known::Rfc3339).ok();
    match (
        parse(&record.created_at),
        record.history.last().and_then(|c| parse(&c.at)),
    ) {
        (Some(start), Some(end)) => (end - start).whole_seconds().max(0) as u64,
        _ => 0,
    }
}

pub async fn handle<J, O, F, W, P, C>(
    deps: &NotifyDeps<J, O, F, W, P, C>,
    event: NotifyEvent,
) -> Result<NotifyOutcome, NotifyError>
where
    J: JobStore,
    O: ObjectStore,
    F: FoldStore,
    W: SecretSource,
    P: WebhookPoster,
    C: Clock,
{
    match event {
        NotifyEvent::Task(NotifyTask::Failure { job_id }) => {
            let span = tracing::info_span!("notify", job_id = %job_id);
            deps.failure(&job_id).instrument(span).await
        }
        NotifyEvent::Task(NotifyTask::Success { job_id }) => {
            let span = tracing::info_span!("notify", job_id = %job_id);
            deps.success(&job_id).instrument(span).await
        }
        NotifyEvent::Task(NotifyTask::Summary { signature }) => deps.summary(&signature).await,
        NotifyEvent::S3(event) => {
            let mut last = outcome("NO_REPORT");
            for record in &event.records {
                let bucket = record.s3.bucket.name.clone().unwrap_or_default();
                let key = decode_event_key(record.s3.object.key.as_deref().unwrap_or_default());
                if key.starts_with("rejected/") && key.ends_with(".errors.json") {
                    last = deps.rejection(&bucket, &key).await?;
                }
            }
            Ok(last)
        }
    }
}
