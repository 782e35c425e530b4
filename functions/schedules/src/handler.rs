//! Dispatches each event to the one path it takes in `recoflow_core::schedule::firing` (a
//! schedule's firing, a job's end) or `recoflow_core::trigger` (data written, a check).

use aws_lambda_events::event::s3::S3Event;
use recoflow_core::job::JobId;
use recoflow_core::s3uri::decode_event_key;
use recoflow_core::schedule::firing::{job_ended, start_firing};
use recoflow_core::trigger::arrival::{data_written, DataWritten};
use recoflow_core::trigger::check::{check_trigger, CheckAnswer};
use recoflow_core::trigger::ports::TriggerPorts;
use tracing::{info, Instrument};

use crate::error::SchedulesError;
use crate::event::{Invocation, SchedulesEvent, SchedulesOutput};

pub async fn handle<P: TriggerPorts>(
    ports: &P,
    invocation: Invocation,
) -> Result<SchedulesOutput, SchedulesError> {
    let event = match invocation {
        Invocation::Event(event) => event,
        Invocation::DataWritten(s3) => return data_event(ports, s3).await,
    };
    match event {
        SchedulesEvent::TriggerCheck(input) => {
            let span =
                tracing::info_span!("trigger_check", trigger_id = %input.trigger_id, force = input.force);
            let outcome = check_trigger(ports, &input).instrument(span).await?;
            Ok(SchedulesOutput::TriggerCheck(CheckAnswer::from(outcome)))
        }
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

/// Objects written in the data bucket: a delayed check for each trigger watching one.
async fn data_event<P: TriggerPorts>(ports: &P, event: S3Event) -> Result<SchedulesOutput, SchedulesError> {
    let mut checks = Vec::new();
    for record in &event.records {
        let object = &record.s3.object;
        let written = DataWritten {
            bucket: record.s3.bucket.name.clone().unwrap_or_default(),
            key: decode_event_key(object.key.as_deref().unwrap_or_default()),
            version: object
                .version_id
                .clone()
                .filter(|v| !v.is_empty() && v != "null")
                .or_else(|| object.e_tag.clone()),
        };
        let span = tracing::info_span!("data_written", bucket = %written.bucket, key = %written.key);
        checks.extend(data_written(ports, &written).instrument(span).await?);
    }
    Ok(SchedulesOutput::DataWritten { checks })
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

    fn event(value: serde_json::Value) -> Invocation {
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

    /// An S3 notification of the data bucket as S3 sends it (keys URL-encoded), then the check
    /// the trigger-check state machine sends after its wait, and what the machine reads back.
    #[tokio::test]
    async fn data_written_starts_a_check_whose_answer_the_state_machine_reads() {
        let ports = FakeSubmitPorts::default();
        let mut form = test_form("container");
        form.trigger = Some(recoflow_core::trigger::TriggerSettings {
            on_new_data: true,
            quiet_seconds: 30,
        });
        form.dataset.interactions = "s3://data/new data/i.csv".into();
        let submission = FormSubmission {
            job_id: JobId::for_api_request("t"),
            source: JobSource::Api {
                idempotency_key: None,
            },
            form,
            form_digest: "d".into(),
        };
        let FormSubmitted::Trigger { trigger_id, .. } = submit_form(&ports, submission).await.unwrap() else {
            panic!("not a trigger")
        };
        let s3 = |key: &str, version: &str| {
            json!({"eventVersion": "2.1", "eventSource": "aws:s3", "eventTime": "2026-12-01T00:00:00.000Z",
                   "eventName": "ObjectCreated:Put", "userIdentity": {"principalId": "x"},
                   "requestParameters": {"sourceIPAddress": "127.0.0.1"}, "responseElements": {},
                   "s3": {"s3SchemaVersion": "1.0", "bucket": {"name": "data", "arn": "arn:aws:s3:::data"},
                          "object": {"key": key, "versionId": version, "eTag": "e", "size": 3, "sequencer": "01"}}})
        };
        let written = event(json!({"Records": [s3("new+data/i.csv", "v1"), s3("other.csv", "v1")]}));
        assert_eq!(
            handle(&ports, written).await.unwrap(),
            SchedulesOutput::DataWritten {
                checks: vec![trigger_id.clone()]
            }
        );
        let (_, input) = ports.checks.started().remove(0);
        let mut check: serde_json::Value = serde_json::from_str(&input).unwrap();
        assert_eq!(check["wait_seconds"], 30);
        check["kind"] = json!("trigger_check");
        let answer = handle(&ports, event(check)).await.unwrap();
        let answer = serde_json::to_value(answer).unwrap();
        // The users file was never written: nothing starts, and the check is done.
        assert_eq!(answer["handled"], "trigger_check");
        assert_eq!(
            (answer["done"].clone(), answer["outcome"].clone()),
            (json!(true), json!("missing"))
        );
        assert_eq!(answer["wait_seconds"], 0);
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
