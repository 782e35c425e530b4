//! The score files' workers as the Distributed Map runs them: at once, in any order, each on
//! its own file; the publish only from every file whole.

use recoflow_core::errors::{ErrorName, NamedError};
use recoflow_core::job::JobStatus;
use recoflow_core::ports::{JobStore, TransitionExtras};

use super::{file_progress, line, pointer, ports_with_scores};
use crate::handler::{begin, deliver_fallbacks, deliver_file, publish_version, Begun};

/// `begin`, then every fallback share's worker to its end.
async fn begun(ports: &super::FakePorts, job_id: &recoflow_core::job::JobId) -> Begun {
    let begun = begin(ports, job_id).await.unwrap();
    for share in &begun.fallback_shares {
        while !deliver_fallbacks(ports, job_id, *share, std::time::Instant::now())
            .await
            .unwrap()
            .done
        {}
    }
    begun
}

fn users(from: usize, to: usize) -> String {
    let lines: Vec<String> = (from..to)
        .map(|i| line(&format!("user-{i}"), &["dress"]))
        .collect();
    lines.join("\n") + "\n"
}

const FILES: [&str; 3] = [
    "jobs/spring-1/scores/users.jsonl.out",
    "jobs/spring-1/scores/g0001/part-00001.jsonl.out",
    "jobs/spring-1/scores/g0001/part-00002.jsonl.out",
];

#[tokio::test]
async fn workers_running_at_once_in_any_order_deliver_every_user_once() {
    let (ports, job_id) = ports_with_scores(&users(0, 250), 60);
    ports.objects.insert("results", FILES[1], users(250, 600));
    ports.objects.insert("results", FILES[2], users(600, 601));
    let begun = begun(&ports, &job_id).await;
    assert_eq!(
        (begun.bucket.as_str(), begun.prefix.as_str(), begun.workers_needed),
        ("results", "jobs/spring-1/scores/", true)
    );
    let now = || std::time::Instant::now();
    let (last, first, middle) = tokio::join!(
        deliver_file(&ports, &job_id, FILES[2], now()),
        deliver_file(&ports, &job_id, FILES[0], now()),
        deliver_file(&ports, &job_id, FILES[1], now()),
    );
    let counts: Vec<(bool, u64)> = [first, middle, last]
        .into_iter()
        .map(|answer| answer.map(|a| (a.done, a.users)).unwrap())
        .collect();
    assert_eq!(counts, [(true, 250), (true, 350), (true, 1)]);
    assert!(
        ports.table().pointers.lock().unwrap().is_empty(),
        "nothing is served before the publish"
    );

    // A worker retried after its answer was lost writes nothing again and counts the same.
    let again = deliver_file(&ports, &job_id, FILES[1], now()).await.unwrap();
    assert_eq!((again.done, again.users), (true, 350));
    // The progress the job shows while its workers run: each file counted once.
    let counts = ports.jobs.record(&job_id).unwrap().counts;
    assert_eq!(
        (counts["score_files_done"], counts["score_files_done_users"]),
        (3, 601)
    );

    let published = publish_version(&ports, &job_id).await.unwrap();
    assert_eq!((published.users, published.held), (601, false));
    assert_eq!(pointer(&ports).users, 601);
    let record = ports.jobs.record(&job_id).unwrap();
    assert_eq!(record.counts["users_delivered"], 601);
    assert_eq!(record.delivery.unwrap().files_read, 3);
}

#[tokio::test]
async fn the_publish_refuses_scores_a_worker_did_not_finish_and_names_them() {
    let (ports, job_id) = ports_with_scores(&users(0, 10), 60);
    ports.objects.insert("results", FILES[1], users(10, 20));
    begun(&ports, &job_id).await;
    deliver_file(&ports, &job_id, FILES[0], std::time::Instant::now())
        .await
        .unwrap();

    // As on a stack whose Map let a failed worker pass: the publish sees the file unfinished.
    let err = publish_version(&ports, &job_id).await.unwrap_err();
    assert_eq!(err.error_name(), ErrorName::DeliveryIncomplete);
    let message = err.to_string();
    assert!(
        message.contains("1 of 2 score files") && message.contains(FILES[1]) && message.contains("not begun"),
        "{message}"
    );
    assert!(ports.table().pointers.lock().unwrap().is_empty());
    let entry = ports.table().entries.lock().unwrap()["spring"].clone();
    assert_eq!(entry.last_job.status, JobStatus::Failed);
}

#[tokio::test]
async fn a_worker_writes_only_the_job_s_score_files() {
    let (ports, job_id) = ports_with_scores(&users(0, 3), 60);
    begun(&ports, &job_id).await;
    let now = std::time::Instant::now();
    // The Map's reader lists every object under the prefix: others are passed over.
    let manifest = "jobs/spring-1/scores/_manifest.json";
    ports.objects.insert("results", manifest, "{}");
    let passed = deliver_file(&ports, &job_id, manifest, now).await.unwrap();
    assert_eq!((passed.done, passed.users), (true, 0));
    let err = deliver_file(&ports, &job_id, "jobs/other-1/scores/a.out", now)
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ScoresInvalid);
    assert!(
        err.to_string().contains("not a score file of job spring-1"),
        "{err}"
    );
}

#[tokio::test]
async fn a_cancelled_job_s_workers_stop_at_their_next_save() {
    let (ports, job_id) = ports_with_scores(&users(0, 450), 0);
    begun(&ports, &job_id).await;
    ports
        .jobs
        .transition(
            &job_id,
            JobStatus::Cancelled,
            "DELETE /jobs/{id}",
            TransitionExtras::default(),
        )
        .await
        .unwrap();
    let err = deliver_file(&ports, &job_id, FILES[0], std::time::Instant::now())
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), ErrorName::JobCancelled);
    assert_eq!(
        file_progress(&ports, &job_id, "users.jsonl.out").users,
        0,
        "nothing saved"
    );
}

#[tokio::test]
async fn an_input_of_an_older_state_machine_is_refused_naming_what_deliver_takes() {
    let (ports, job_id) = ports_with_scores(&users(0, 3), 60);
    let err = crate::handler::handle_input(&ports, serde_json::json!({"job_id": job_id}))
        .await
        .unwrap_err();
    assert_eq!(err.error_name(), ErrorName::ConfigurationInvalid);
    assert!(err.to_string().contains("retry the job"), "{err}");
}
