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
