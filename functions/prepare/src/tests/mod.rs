//! Prepare scenarios on fakes: a queued job and its data files in, a plan and the scoring
//! input out, or the file, column or segment named.

mod datasets;
mod item_input;
mod scoring_input;
mod unchanged;

use recoflow_core::fakes::{test_form, FakeJobStore, FakeObjects};
use recoflow_core::job::JobId;
use recoflow_core::scoring_parts::{scoring_prefix, PartLayout, PERSONALIZE_BATCH_USERS};
use recoflow_core::task::JobTask;

use crate::ports::prepare_ports_struct;

const INTERACTIONS: &str = "user_id,ITEM_ID,\"TIMESTAMP\",EVENT_TYPE\r\nu1,i1,1,click\nu2,i1,2,click\n";
const USERS: &str = "\u{feff}USER_ID,GENDER,AGE\nu1,F,25\nu2,M,30\n\"u,3\",f,41\n";

prepare_ports_struct!(FakePreparePorts {
    jobs: FakeJobStore,
    objects: FakeObjects,
});

/// A container job on `s3://data/i.csv` (+ `u.csv`), segment gender F.
fn ports_with_job(users: bool) -> (FakePreparePorts, JobId) {
    let mut form = test_form("container");
    if !users {
        form.dataset.users = None;
        form.segment = None;
    }
    let ports = FakePreparePorts {
        jobs: FakeJobStore::default(),
        objects: FakeObjects::default(),
        results_bucket: "results".into(),
        scoring_layout: PartLayout::new(1_000_000, PERSONALIZE_BATCH_USERS),
    };
    let job_id = ports.jobs.insert_queued("spring-1", form);
    (ports, job_id)
}

fn task(job_id: &JobId) -> JobTask {
    JobTask::new(job_id)
}

/// The parts of the job's scoring input, (key under its prefix, lines), in key order.
fn scoring_parts(ports: &FakePreparePorts, job_id: &JobId) -> Vec<(String, String)> {
    let prefix = scoring_prefix(job_id);
    ports
        .objects
        .objects
        .lock()
        .unwrap()
        .iter()
        .filter_map(|((bucket, key), body)| {
            let part = key.strip_prefix(&prefix).filter(|_| bucket == "results")?;
            Some((part.to_owned(), String::from_utf8(body.clone()).unwrap()))
        })
        .collect()
}
