//! A failed job's message: once, with what failed and where to look.

use recoflow_core::job::NotificationState;
use recoflow_core::task::NotifyState;

use super::{failed_job, failed_job_in, failure, ports};
use crate::handler::handle;

#[tokio::test]
async fn a_failed_job_gets_one_message_even_when_the_step_is_retried() {
    let ports = ports();
    let job_id = failed_job(
        &ports,
        "weekly-1",
        "TrainingFailed",
        "AlgorithmError: out of memory",
    )
    .await;
    let first = handle(&ports, failure(&job_id)).await.unwrap();
    assert_eq!(first.state, NotifyState::Delivered);
    let again = handle(&ports, failure(&job_id)).await.unwrap();
    assert_eq!(again.state, NotifyState::AlreadyNotified);
    let posted = ports.poster.posted();
    assert_eq!(posted.len(), 1);
    let text = posted[0]["text"].as_str().unwrap();
    assert!(
        text.contains("weekly-1") && text.contains("TrainingFailed") && text.contains("model/container"),
        "{text}"
    );
    let blocks = posted[0]["blocks"].to_string();
    assert!(
        blocks.contains("states/home?region=us-east-1#/v2/executions/details/arn:aws:states"),
        "{blocks}"
    );
    assert!(blocks.contains("https://api.test/Prod/jobs/weekly-1"));
    assert!(blocks.contains("recoflow-RunnerFunction"));
    let notification = ports.jobs.record(&job_id).unwrap().notification.unwrap();
    assert_eq!(
        (notification.state, notification.attempts),
        (NotificationState::Delivered, 1)
    );
}

#[tokio::test]
async fn the_logs_link_is_the_failed_states_function_else_the_status_ones() {
    let ports = ports();
    // Caught by Deliver, though the status still says TRAINING: Deliver's logs.
    let delivered = failed_job_in(&ports, "deliver-1", "ScoresInvalid", "x", Some("Deliver")).await;
    handle(&ports, failure(&delivered)).await.unwrap();
    // No state recorded: the status (TRAINING) belongs to RunPhases.
    let by_status = failed_job_in(&ports, "status-1", "TrainingFailed", "y", None).await;
    handle(&ports, failure(&by_status)).await.unwrap();
    let posted = ports.poster.posted();
    let blocks: Vec<String> = posted.iter().map(|m| m["blocks"].to_string()).collect();
    assert!(blocks[0].contains("recoflow-DeliverFunction"), "{}", blocks[0]);
    assert!(!blocks[0].contains("recoflow-RunnerFunction"));
    assert!(blocks[1].contains("recoflow-RunnerFunction"), "{}", blocks[1]);
}
