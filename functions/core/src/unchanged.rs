//! Skip what did not change: a job its schedule or trigger started is not run when its form
//! and its data files are those of the last job of the same schedule or trigger that
//! SUCCEEDED. Prepare decides, once it has read the files' heads and before anything is
//! launched; `force: true` (in the form, or on the firing or check) runs it anyway.

use crate::data_version::{same_data, DataVersion};
use crate::errors::ServiceError;
use crate::form::JobForm;
use crate::job::{JobRecord, JobStatus, SkipCause, Skipped};
use crate::ports::JobStore;

/// The last succeeded job of the same schedule or trigger, when `job` would repeat it (same
/// form, `force` aside; every data file the same bytes), with why it is skipped. `None`: the job
/// runs (not unattended, forced, nothing succeeded before, or something changed).
pub async fn repeated_success<J: JobStore>(
    jobs: &J,
    job: &JobRecord,
    versions: &[DataVersion],
) -> Result<Option<Skipped>, ServiceError> {
    let Some(form) = job.form.as_ref() else {
        return Ok(None);
    };
    if !job.source.is_unattended() || form.force {
        return Ok(None);
    }
    for earlier_id in &job.earlier_runs {
        let Some(earlier) = jobs.get(earlier_id).await? else {
            continue;
        };
        if earlier.status != JobStatus::Succeeded {
            continue;
        }
        // Only the newest success counts: data that went back to an older state is new work.
        let repeats = earlier.form.as_ref().is_some_and(|then| same_form(form, then))
            && same_data(versions, &earlier.data_versions);
        return Ok(repeats.then(|| skipped(&earlier, versions)));
    }
    Ok(None)
}

fn same_form(now: &JobForm, then: &JobForm) -> bool {
    let plain = |form: &JobForm| JobForm {
        force: false,
        ..form.clone()
    };
    plain(now) == plain(then)
}

fn skipped(earlier: &JobRecord, versions: &[DataVersion]) -> Skipped {
    let files: Vec<String> = versions.iter().map(DataVersion::label).collect();
    Skipped {
        cause: SkipCause::Unchanged,
        job_id: earlier.job_id.clone(),
        reason: format!(
            "the form and the data files ({}) are those of job {}, which succeeded; nothing was launched (force: true runs it anyway)",
            files.join(", "),
            earlier.job_id
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::{test_form, FakeJobStore};
    use crate::job::{now_rfc3339, JobId, JobSource};
    use crate::ports::ObjectVersion;

    fn version(id: &str, etag: &str) -> Vec<DataVersion> {
        let version = ObjectVersion {
            version_id: Some(id.into()),
            etag: Some(etag.into()),
            last_modified: Some(100),
        };
        vec![DataVersion::new(
            "dataset.interactions",
            "s3://data/i.csv",
            10,
            version,
        )]
    }

    fn scheduled(jobs: &FakeJobStore, id: &str, earlier: &[&str]) -> JobRecord {
        let source = JobSource::Schedule {
            schedule_id: "s-1".into(),
            scheduled_time: "2026-12-01T03:00:00Z".into(),
        };
        let mut record = JobRecord::queued(
            JobId::parse(id).unwrap(),
            source,
            test_form("container"),
            "d".into(),
            &now_rfc3339(),
        );
        record.earlier_runs = earlier.iter().map(|e| JobId::parse(e).unwrap()).collect();
        record.data_versions = version("v1", "e1");
        jobs.records
            .lock()
            .unwrap()
            .insert(record.job_id.clone(), record.clone());
        record
    }

    #[tokio::test]
    async fn the_same_form_and_bytes_as_the_last_success_are_skipped_naming_it() {
        let jobs = FakeJobStore::default();
        let first = scheduled(&jobs, "j-1", &[]);
        jobs.force_status(&first.job_id, JobStatus::Succeeded);
        let failed = scheduled(&jobs, "j-2", &["j-1"]);
        jobs.force_status(&failed.job_id, JobStatus::Failed);
        let next = scheduled(&jobs, "j-3", &["j-2", "j-1"]);

        // The same bytes uploaded again (another version id, the same ETag and size).
        let skipped = repeated_success(&jobs, &next, &version("v2", "e1"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (skipped.cause, skipped.job_id.as_str()),
            (SkipCause::Unchanged, "j-1")
        );
        assert!(
            skipped.reason.contains("dataset.interactions version v2"),
            "{}",
            skipped.reason
        );

        assert!(repeated_success(&jobs, &next, &version("v3", "e2"))
            .await
            .unwrap()
            .is_none());
        let mut forced = next.clone();
        forced.form.as_mut().unwrap().force = true;
        assert!(repeated_success(&jobs, &forced, &version("v1", "e1"))
            .await
            .unwrap()
            .is_none());
        let mut other_form = next.clone();
        other_form.form.as_mut().unwrap().num_results = 9;
        assert!(repeated_success(&jobs, &other_form, &version("v1", "e1"))
            .await
            .unwrap()
            .is_none());
        let mut by_hand = next;
        by_hand.source = JobSource::Api {
            idempotency_key: None,
        };
        assert!(repeated_success(&jobs, &by_hand, &version("v1", "e1"))
            .await
            .unwrap()
            .is_none());
    }

    #[tokio::test]
    async fn only_the_newest_success_counts() {
        let jobs = FakeJobStore::default();
        let old = scheduled(&jobs, "j-1", &[]);
        jobs.force_status(&old.job_id, JobStatus::Succeeded);
        let mut newer = scheduled(&jobs, "j-2", &["j-1"]);
        newer.data_versions = version("v5", "e5");
        jobs.records
            .lock()
            .unwrap()
            .insert(newer.job_id.clone(), newer.clone());
        jobs.force_status(&newer.job_id, JobStatus::Succeeded);
        let next = scheduled(&jobs, "j-3", &["j-2", "j-1"]);
        // The data went back to what j-1 read: that is not what the last success read.
        assert!(repeated_success(&jobs, &next, &version("v1", "e1"))
            .await
            .unwrap()
            .is_none());
    }
}
