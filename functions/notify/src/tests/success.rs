//! A succeeded job's message, only when its form asks.

use recoflow_core::fakes::test_form;
use recoflow_core::form::NotifySettings;
use recoflow_core::job::JobId;
use recoflow_core::task::{NotifyState, NotifyTask};

use super::ports;
use crate::handler::{handle, NotifyEvent};

#[tokio::test]
async fn a_success_is_told_only_when_the_form_asks() {
    let ports = ports();
    let mut form = test_form("container");
    let quiet = ports.jobs.insert_queued("quiet-1", form.clone());
    form.notify = Some(NotifySettings {
        slack_channel: Some("#ml-alerts".into()),
        on_success: true,
    });
    let loud = ports.jobs.insert_queued("loud-1", form);
    let event = |id: &JobId| NotifyEvent::Task(NotifyTask::Success { job_id: id.clone() });
    assert_eq!(
        handle(&ports, event(&quiet)).await.unwrap().state,
        NotifyState::NotAsked
    );
    assert_eq!(
        handle(&ports, event(&loud)).await.unwrap().state,
        NotifyState::Delivered
    );
    let posted = ports.poster.posted();
    assert_eq!(posted.len(), 1);
    assert_eq!(posted[0]["channel"], "#ml-alerts");
}

/// A succeeded audience job of `result_set` whose version `v1` has a manifest of one audience.
async fn audience_job(ports: &super::FakeNotifyPorts, with_manifest: bool) -> JobId {
    use recoflow_core::delivery::Delivery;
    use recoflow_core::outputs::audience::{manifest_key, AudienceEntry, AudienceManifest, ValueCount};
    use recoflow_core::ports::{JobPatch, JobStore};
    let mut form = serde_json::to_value(test_form("container")).unwrap();
    form["output"] = "audience".into();
    form["audience"] = serde_json::json!({"items": ["i042"], "size": 100});
    form["notify"] = serde_json::json!({"on_success": true});
    form.as_object_mut().unwrap().remove("num_results");
    let form = serde_json::from_value(form).unwrap();
    let job_id = ports.jobs.insert_queued("coats-1", form);
    let delivery = Delivery {
        version: "v1".into(),
        ..Delivery::default()
    };
    ports
        .jobs
        .patch(&job_id, JobPatch::Delivery(delivery), None)
        .await
        .unwrap();
    if with_manifest {
        let manifest = AudienceManifest {
            result_set: "spring".into(),
            version: "v1".into(),
            job_id: job_id.clone(),
            created_at: "2026-12-01T00:00:00.000Z".into(),
            columns: vec!["GENDER".into()],
            size: Some(100),
            min_score: None,
            audiences: vec![AudienceEntry {
                item: Some("i042".into()),
                item_filter: None,
                csv: "audiences/spring/v1/0000.csv".into(),
                size: 42,
                breakdown: [(
                    "GENDER".to_owned(),
                    vec![ValueCount {
                        value: "F".into(),
                        users: 42,
                    }],
                )]
                .into(),
                error: None,
            }],
        };
        let body = serde_json::to_vec(&manifest).unwrap();
        ports
            .objects
            .insert("results", &manifest_key("spring", "v1"), body);
    }
    job_id
}

#[tokio::test]
async fn an_audience_s_success_links_its_csv_and_says_when_the_link_expires() {
    let ports = ports();
    let job_id = audience_job(&ports, true).await;
    let event = NotifyEvent::Task(NotifyTask::Success { job_id });
    assert_eq!(handle(&ports, event).await.unwrap().state, NotifyState::Delivered);
    let message = ports.poster.posted()[0].to_string();
    assert!(message.contains("*42* users for item `i042`"), "{message}");
    assert!(
        message.contains("https://results.s3.fake/audiences/spring/v1/0000.csv?X-Amz-Expires=604800"),
        "{message}"
    );
    assert!(message.contains("Download links work until"), "{message}");
}

#[tokio::test]
async fn links_signed_by_the_role_s_session_promise_no_date() {
    let ports = ports();
    ports.objects.set_presigned_by_session(true);
    let job_id = audience_job(&ports, true).await;
    let event = NotifyEvent::Task(NotifyTask::Success { job_id });
    assert_eq!(handle(&ports, event).await.unwrap().state, NotifyState::Delivered);
    let message = ports.poster.posted()[0].to_string();
    assert!(
        message.contains("audiences/spring/v1/0000.csv"),
        "still linked: {message}"
    );
    assert!(
        message.contains("Download links work for a few hours") && !message.contains("work until"),
        "{message}"
    );
}

#[tokio::test]
async fn an_audience_whose_manifest_cannot_be_read_still_gets_its_success_message() {
    let ports = ports();
    let job_id = audience_job(&ports, false).await;
    let event = NotifyEvent::Task(NotifyTask::Success { job_id });
    assert_eq!(handle(&ports, event).await.unwrap().state, NotifyState::Delivered);
    assert!(ports.poster.posted()[0].to_string().contains("SUCCEEDED"));
}
