//! The scoring step's output files (`*.out` under the job's `scores/`), found one at a time in
//! key order by a paged listing after the last one read: the delivery keeps only the prefix,
//! the file being read and its offset, however many files there are.

use recoflow_core::job::JobId;
use recoflow_core::ports::ObjectStore;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// Where a job's scores are, under the results bucket.
pub(crate) fn scores_prefix(job_id: &JobId) -> String {
    format!("jobs/{job_id}/scores/")
}

fn is_score_file(key: &str) -> bool {
    key.ends_with(".out")
}

/// The first score file after `after` (from the start when `None`), through every page of the
/// listing; `None` when there is none.
pub(crate) async fn next_score_file<P: DeliverPorts>(
    ports: &P,
    prefix: &str,
    after: Option<&str>,
) -> Result<Option<String>, DeliverError> {
    let bucket = &ports.settings().results_bucket;
    let mut continuation: Option<String> = None;
    loop {
        let page = ports
            .objects()
            .list_page(bucket, prefix, after, continuation.as_deref())
            .await?;
        if let Some(key) = page.keys.into_iter().find(|key| is_score_file(key)) {
            return Ok(Some(key));
        }
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(None),
        }
    }
}

/// The first score file; a scoring step that wrote none fails the delivery.
pub(crate) async fn first_score_file<P: DeliverPorts>(
    ports: &P,
    prefix: &str,
) -> Result<String, DeliverError> {
    next_score_file(ports, prefix, None).await?.ok_or_else(|| {
        DeliverError::ScoresInvalid(format!(
            "no scores (*.out) under s3://{}/{prefix}: the scoring step wrote nothing",
            ports.settings().results_bucket
        ))
    })
}
