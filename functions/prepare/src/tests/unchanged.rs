//! A scheduled or triggered job that would repeat its last success ends SKIPPED naming it, with
//! nothing written for the phases; a retry runs the phases from the one it retries on.

use recoflow_core::job::{JobId, JobSource, JobStatus, SkipCause};
use recoflow_core::phase::Phase;

use super::{ports_with_job, scoring_parts, task, FakePreparePorts, INTERACTIONS, USERS};
use crate::handler::handle;

/// Makes the job a trigger's, started after `earlier` (newest first).
fn triggered(ports: &FakePreparePorts, job_id: &JobId, earlier: &[&JobId]) {
    let mut records = ports.jobs.records.lock().unwrap();
    let record = records.get_mut(job_id).unwrap();
    record.source = JobSource::Trigger {
        trigger_id: "t-1".into(),
    };
    record.earlier_runs = earlier.iter().map(|id| (*id).clone()).collect();
}

#[tokio::test]
async fn the_same_bytes_as_the_last_success_skip_the_job_naming_it() {
    let (ports, first) = ports_with_job(true);
    triggered(&ports, &first, &[]);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", USERS);
    let plan = handle(&ports, task(&first)).await.unwrap();
    assert!(!plan.skipped, "nothing succeeded before");
    let versions = ports.jobs.record(&first).unwrap().data_versions;
    assert_eq!(versions.len(), 2, "{versions:?}");
    assert_eq!(versions[0].version, ports.objects.version("data", "i.csv"));
    ports.jobs.force_status(&first, JobStatus::Succeeded);

    // The same files uploaded again (new versions, the same bytes).
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", USERS);
    let second = ports
        .jobs
        .insert_queued("spring-2", recoflow_core::fakes::test_form("container"));
    triggered(&ports, &second, &[&first]);
    let plan = handle(&ports, task(&second)).await.unwrap();
    assert!(plan.skipped && plan.phases.is_empty(), "{plan:?}");
    let record = ports.jobs.record(&second).unwrap();
    assert_eq!(record.status, JobStatus::Skipped);
    let skipped = record.skipped.unwrap();
    assert_eq!((skipped.cause, &skipped.job_id), (SkipCause::Unchanged, &first));
    assert!(record.prepared.is_none(), "nothing was prepared for the phases");
    assert!(scoring_parts(&ports, &second).is_empty());

    // One changed file: it runs.
    ports.objects.insert("data", "u.csv", format!("{USERS}u9,F,20\n"));
    let third = ports
        .jobs
        .insert_queued("spring-3", recoflow_core::fakes::test_form("container"));
    triggered(&ports, &third, &[&second, &first]);
    assert!(!handle(&ports, task(&third)).await.unwrap().skipped);
}

#[tokio::test]
async fn a_retry_plans_the_phases_from_the_one_it_starts_at() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", INTERACTIONS);
    ports.objects.insert("data", "u.csv", USERS);
    ports
        .jobs
        .records
        .lock()
        .unwrap()
        .get_mut(&job_id)
        .unwrap()
        .source = JobSource::Retry {
        retry_of: JobId::parse("spring-0").unwrap(),
        from_phase: Phase::Score,
    };
    let plan = handle(&ports, task(&job_id)).await.unwrap();
    assert_eq!(plan.phases, [Phase::Score]);
    assert!(!plan.skipped);
}
