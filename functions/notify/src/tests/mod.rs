//! Notification scenarios on fakes: once per job, retries within a budget, folding, links,
//! held versions with their charts, freshness alerts.

mod delivery;
mod failure;
mod freshness;
mod held;
mod rejection;
mod success;
mod summary;

use std::time::Duration;

use recoflow_core::fakes::{
    test_form, FakeClock, FakeFolds, FakeJobStore, FakeObjects, FakePoster, FakeRecommendations, FakeSecret,
};
use recoflow_core::job::{JobFailure, JobId, JobStatus};
use recoflow_core::ports::{JobPatch, JobStore, TransitionExtras};
use recoflow_core::task::NotifyTask;

use crate::config::NotifySettings;
use crate::handler::NotifyEvent;
use crate::ports::notify_ports_struct;
use crate::state_functions::StateFunctions;

notify_ports_struct!(FakeNotifyPorts {
    jobs: FakeJobStore,
    objects: FakeObjects,
    recommendations: FakeRecommendations,
    folds: FakeFolds,
    secret: FakeSecret,
    poster: FakePoster,
    clock: FakeClock,
});

fn ports() -> FakeNotifyPorts {
    FakeNotifyPorts {
        jobs: FakeJobStore::default(),
        objects: FakeObjects::default(),
        recommendations: FakeRecommendations::default(),
        folds: FakeFolds::default(),
        webhook: FakeSecret(Some("https://hooks.slack.test/services/T/B/secret".into())),
        api_url: FakeSecret(Some("https://api.test/Prod".into())),
        poster: FakePoster::default(),
        clock: FakeClock::default(),
        settings: NotifySettings {
            region: "us-east-1".into(),
            state_functions: StateFunctions::parse(
                "Prepare=recoflow-PrepareFunction,RunPhases=recoflow-RunnerFunction,Deliver=recoflow-DeliverFunction",
            )
            .unwrap(),
            retry_budget: Duration::from_secs(180),
            fold_window_seconds: 60,
            fold_max_messages: 3,
            results_bucket: "results".into(),
            presigned_url_lifetime: crate::config::PRESIGNED_URL_LIFETIME,
            freshness_hour_seconds: 3600,
        },
    }
}

/// A job that failed while TRAINING, caught by the RunPhases state.
async fn failed_job(ports: &FakeNotifyPorts, id: &str, error: &str, cause: &str) -> JobId {
    failed_job_in(ports, id, error, cause, Some("RunPhases")).await
}

async fn failed_job_in(
    ports: &FakeNotifyPorts,
    id: &str,
    error: &str,
    cause: &str,
    state: Option<&str>,
) -> JobId {
    let job_id = ports.jobs.insert_queued(id, test_form("container"));
    let arn = format!("arn:aws:states:us-east-1:000000000000:execution:jobs:{id}");
    ports
        .jobs
        .patch(&job_id, JobPatch::ExecutionArn(arn), None)
        .await
        .unwrap();
    ports.jobs.force_status(&job_id, JobStatus::Training);
    let extras = TransitionExtras {
        failure: Some(JobFailure {
            error: error.into(),
            cause: cause.into(),
            status: Some(JobStatus::Training),
            state: state.map(str::to_owned),
        }),
        ..TransitionExtras::default()
    };
    ports
        .jobs
        .transition(&job_id, JobStatus::Failed, "failed", extras)
        .await
        .unwrap();
    job_id
}

fn failure(job_id: &JobId) -> NotifyEvent {
    NotifyEvent::Task(NotifyTask::Failure {
        job_id: job_id.clone(),
    })
}

/// What the job record says about why its message did not go out.
fn last_error(ports: &FakeNotifyPorts, job_id: &JobId) -> String {
    let notification = ports.jobs.record(job_id).unwrap().notification.unwrap();
    notification.last_error.expect("the record says why")
}
