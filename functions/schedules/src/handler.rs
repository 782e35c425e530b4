//! Dispatches each event to the one path it takes in `recoflow_core::schedule::firing`.

use recoflow_core::job::JobId;
use recoflow_core::schedule::firing::{job_ended, start_firing, FiringPorts};
use tracing::{info, Instrument};

use crate::error::SchedulesError;
use crate::event::{SchedulesEvent, SchedulesOutput};

pub async fn handle<P: FiringPorts>(
    ports: &P,
    event: SchedulesEvent,
) -> Result<SchedulesOutput, SchedulesError> {
    match event {
        SchedulesEvent::Firing(firing) => {
            let span = tracing::info_span!(
                "firing",
                schedule_id = %firing.schedule_id,
                scheduled_time = %firing.scheduled_time,
                execution_id = firing.execution_id.as_deref().unwrap_or_default()
            );
            let outcome = start_firing(ports, &firing).instrument(span).await?;
            Ok(SchedulesOutput::Firing(outcome))
        }
        SchedulesEvent::ExecutionEnded {
            job_id,
            execution_status,
        } => {
            let id = JobId::parse(&job_id).ok_or(SchedulesError::InvalidJobId(job_id))?;
            let span = tracing::info_span!("execution_ended", job_id = %id, %execution_status);
            async {
                let started = job_ended(ports, &id).await?;
                info!(started = ?started, "job execution ended");
                Ok(SchedulesOutput::ExecutionEnded { started })
            }
            .instrument(span)
            .await
        }
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::fakes::{test_form, FakeSubmitPorts};
    use recoflow_core::job::{JobSource, JobStatus};
    use recoflow_core::schedule::firing::FiringOutcome;
    use recoflow_core::schedule::{Overlap, ScheduleSettings};
    use recoflow_core::submit::{submit_form, FormSubmission, FormSubmitted};
    use serde_json::json;

    use super::*;

    async fn queued_schedule(ports: &FakeSubmitPorts) -> String {
        let mut form = test_form("container");
        form.schedule = Some(ScheduleSettings {
            expression: "rate(1 minute)".into(),
            timezone: "UTC".into(),
            start: None,
            end: None,
            overlap: Overlap::Queue,
        });
        let submission = FormSubmission {
            job_id: JobId::for_api_request("r"),
            source: JobSource::Api {
                idempotency_key: None,
            },
            form,
            form_digest: "d".into(),
        };
        match submit_form(ports, submission).await.unwrap() {
            FormSubmitted::Schedule { schedule_id, .. } => schedule_id.to_string(),
            other => panic!("{other:?}"),
        }
    }

    fn event(value: serde_json::Value) -> SchedulesEvent {
        serde_json::from_value(value).unwrap()
    }

    /// The events as the Scheduler's input and the EventBridge rule's transformer write them.
    #[tokio::test]
    async fn a_firing_starts_a_job_and_the_end_of_its_execution_starts_the_queued_one() {
        let ports = FakeSubmitPorts::default();
        let schedule_id = queued_schedule(&ports).await;
        let fire = |minute: u32| {
            event(json!({
                "kind": "firing", "schedule_id": schedule_id,
                "scheduled_time": format!("2026-12-01T03:{minute:02}:00Z"), "execution_id": "abc"
            }))
        };
        let SchedulesOutput::Firing(FiringOutcome::Started { job_id: first }) =
            handle(&ports, fire(0)).await.unwrap()
        else {
            panic!("not started")
        };
        let SchedulesOutput::Firing(FiringOutcome::Queued { job_id: second, .. }) =
            handle(&ports, fire(1)).await.unwrap()
        else {
            panic!("not queued")
        };
        ports.jobs.force_status(&first, JobStatus::Succeeded);
        let ended =
            event(json!({"kind": "execution_ended", "job_id": first, "execution_status": "SUCCEEDED"}));
        assert_eq!(
            handle(&ports, ended).await.unwrap(),
            SchedulesOutput::ExecutionEnded {
                started: Some(second)
            }
        );
        // A job no schedule made: nothing to do.
        let other = ports.jobs.insert_queued("api-1", test_form("container"));
        let ended = event(json!({"kind": "execution_ended", "job_id": other, "execution_status": "FAILED"}));
        assert_eq!(
            handle(&ports, ended).await.unwrap(),
            SchedulesOutput::ExecutionEnded { started: None }
        );
    }

    #[tokio::test]
    async fn bad_events_fail_with_names_the_invoker_can_tell() {
        use recoflow_core::errors::{ErrorName, NamedError};
        let ports = FakeSubmitPorts::default();
        let bad_time = event(json!({"kind": "firing", "schedule_id": "s-1", "scheduled_time": "soon"}));
        let err = handle(&ports, bad_time).await.unwrap_err();
        assert_eq!(err.error_name(), ErrorName::ConfigurationInvalid);
        let bad_job =
            event(json!({"kind": "execution_ended", "job_id": "../x", "execution_status": "FAILED"}));
        assert_eq!(
            handle(&ports, bad_job).await.unwrap_err().error_name(),
            ErrorName::JobNotFound
        );
    }
}
