//! Folding: many failures of one cause make a few messages and one summary naming them all.

use recoflow_core::job::{JobId, NotificationState};
use recoflow_core::task::{NotifyState, NotifyTask};

use super::{failed_job, failure, ports};
use crate::handler::{handle, NotifyEvent};

#[tokio::test]
async fn ten_failures_of_one_cause_make_a_few_messages_naming_all_ten() {
    let ports = ports();
    let mut ids = Vec::new();
    let mut folded = Vec::new();
    for i in 0..10 {
        let job_id = failed_job(
            &ports,
            &format!("job-{i}"),
            "DatasetMissing",
            &format!("dataset.interactions: s3://data/day-{i}.csv does not exist"),
        )
        .await;
        let outcome = handle(&ports, failure(&job_id)).await.unwrap();
        if outcome.state == NotifyState::Folded {
            assert!((1..=60).contains(&outcome.wait_seconds));
            folded.push(outcome.signature);
        }
        ids.push(job_id.to_string());
    }
    assert_eq!(ports.poster.posted().len(), 3, "three on their own");
    assert_eq!(folded.len(), 7);
    // Every folded execution asks for the summary after the window: one sends it.
    let mut states = Vec::new();
    for signature in &folded {
        let event = NotifyEvent::Task(NotifyTask::Summary {
            signature: signature.clone(),
        });
        states.push(handle(&ports, event).await.unwrap().state);
    }
    assert_eq!(
        states
            .iter()
            .filter(|s| **s == NotifyState::SummaryDelivered)
            .count(),
        1
    );
    let posted = ports.poster.posted();
    assert_eq!(posted.len(), 4);
    let all_text: String = posted.iter().map(|m| m.to_string()).collect();
    for id in &ids {
        assert!(all_text.contains(id.as_str()), "{id} is named in some message");
    }
    for id in &ids[3..] {
        let notification = ports
            .jobs
            .record(&JobId::parse(id).unwrap())
            .unwrap()
            .notification
            .unwrap();
        assert_eq!(notification.state, NotificationState::Folded);
    }
}
