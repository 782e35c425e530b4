use std::time::Duration;

use super::*;
use crate::clock::Clock;
use crate::fakes::FakeSubmitPorts;
use crate::trigger::create::register_trigger;
use crate::trigger::create::tests::trigger_record;

/// A registered trigger (quiet 60 s) on `data/i.csv` and `data/u.csv`, registered 100 s ago.
async fn registered(ports: &FakeSubmitPorts) -> CheckInput {
    let mut record = trigger_record("d");
    record.registered_at = ports.clock.unix_now() - 100;
    register_trigger(&ports.triggers, &record).await.unwrap();
    CheckInput {
        trigger_id: record.trigger_id,
        wait_seconds: 60,
        force: false,
    }
}

/// Writes both files now (the same bytes each time unless `content` differs).
fn upload(ports: &FakeSubmitPorts, content: &str) {
    ports.objects.set_write_time(ports.clock.unix_now());
    ports
        .objects
        .insert("data", "i.csv", format!("USER_ID,ITEM_ID,TIMESTAMP\n{content}\n"));
    ports.objects.insert("data", "u.csv", "USER_ID,GENDER\nu1,F\n");
}

fn started(outcome: CheckOutcome) -> JobId {
    match outcome {
        CheckOutcome::Started { job_id } => job_id,
        other => panic!("not started: {other:?}"),
    }
}

#[tokio::test]
async fn an_upload_of_every_file_starts_one_job_once_quiet() {
    let ports = FakeSubmitPorts::default();
    let input = registered(&ports).await;
    upload(&ports, "u1,i1,1");
    ports.clock.advance(Duration::from_secs(20));
    let early = check_trigger(&ports, &input).await.unwrap();
    assert_eq!(early, CheckOutcome::NotQuiet { wait_seconds: 40 });
    assert!(!CheckAnswer::from(early).done);

    ports.clock.advance(Duration::from_secs(40));
    let job_id = started(check_trigger(&ports, &input).await.unwrap());
    // Every other check of the same upload (one per file, replays) finds nothing new.
    let again = check_trigger(&ports, &input).await.unwrap();
    assert_eq!(
        again,
        CheckOutcome::NotAllNew {
            unchanged: vec!["dataset.interactions".into(), "dataset.users".into()]
        }
    );
    assert!(CheckAnswer::from(again).done);
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

    let job = ports.jobs.record(&job_id).unwrap();
    assert_eq!(job.status, JobStatus::Queued);
    assert!(
        matches!(&job.source, JobSource::Trigger { trigger_id } if trigger_id == input.trigger_id.as_str())
    );
    let form = job.form.unwrap();
    assert!(form.trigger.is_none() && !form.force);
    let trigger = ports.triggers.record(&input.trigger_id).unwrap();
    assert_eq!(trigger.runs.len(), 1);
    assert_eq!(
        trigger.runs[0].files[0].version,
        ports.objects.version("data", "i.csv")
    );
}

#[tokio::test]
async fn a_file_without_a_new_version_holds_the_job_back() {
    let ports = FakeSubmitPorts::default();
    let input = registered(&ports).await;
    assert_eq!(
        check_trigger(&ports, &input).await.unwrap(),
        CheckOutcome::Missing {
            field: "dataset.interactions".into(),
            uri: "s3://data/i.csv".into()
        }
    );
    upload(&ports, "u1,i1,1");
    ports.clock.advance(Duration::from_secs(60));
    let first = started(check_trigger(&ports, &input).await.unwrap());

    // Only the interactions change: the users file has no newer version.
    ports.objects.set_write_time(ports.clock.unix_now());
    ports
        .objects
        .insert("data", "i.csv", "USER_ID,ITEM_ID,TIMESTAMP\nu2,i2,2\n");
    ports.clock.advance(Duration::from_secs(60));
    assert_eq!(
        check_trigger(&ports, &input).await.unwrap(),
        CheckOutcome::NotAllNew {
            unchanged: vec!["dataset.users".into()]
        }
    );
    // Both again (the same bytes as the first run's users file): a second job, which knows
    // the first to compare with.
    upload(&ports, "u2,i2,2");
    ports.clock.advance(Duration::from_secs(60));
    let second = started(check_trigger(&ports, &input).await.unwrap());
    assert_ne!(first, second);
    assert_eq!(ports.jobs.record(&second).unwrap().earlier_runs, [first]);
}

#[tokio::test]
async fn a_check_after_a_crash_finishes_the_run_and_a_forced_one_says_so() {
    let ports = FakeSubmitPorts::default();
    let mut input = registered(&ports).await;
    upload(&ports, "u1,i1,1");
    ports.clock.advance(Duration::from_secs(60));
    // The job was started but the run not noted (the note lost to other writers each time).
    *ports.triggers.losing_replaces.lock().unwrap() = 8;
    assert!(matches!(
        check_trigger(&ports, &input).await,
        Err(CheckError::Contended(_))
    ));
    input.force = true;
    let repeat = check_trigger(&ports, &input).await.unwrap();
    let CheckOutcome::Duplicate { job_id, status } = repeat else {
        panic!("{repeat:?}")
    };
    assert_eq!(status, JobStatus::Queued);
    assert_eq!(
        ports.triggers.record(&input.trigger_id).unwrap().runs[0].job_id,
        job_id
    );
    assert_eq!(ports.executions.started.lock().unwrap().len(), 1);

    upload(&ports, "u3,i3,3");
    ports.clock.advance(Duration::from_secs(60));
    let forced = started(check_trigger(&ports, &input).await.unwrap());
    assert!(ports.jobs.record(&forced).unwrap().form.unwrap().force);
}

#[tokio::test]
async fn a_deleted_or_unknown_trigger_checks_nothing() {
    let ports = FakeSubmitPorts::default();
    let input = registered(&ports).await;
    let now = crate::schedule::instant_now(&ports.clock);
    crate::trigger::remove::delete_trigger(&ports.triggers, &input.trigger_id, now)
        .await
        .unwrap();
    upload(&ports, "u1,i1,1");
    ports.clock.advance(Duration::from_secs(60));
    assert!(matches!(
        check_trigger(&ports, &input).await.unwrap(),
        CheckOutcome::Ignored { .. }
    ));
    let unknown = CheckInput {
        trigger_id: TriggerId::parse("nope").unwrap(),
        ..input
    };
    assert!(matches!(
        check_trigger(&ports, &unknown).await.unwrap(),
        CheckOutcome::Ignored { .. }
    ));
    assert!(ports.jobs.all().is_empty());
}
