//! The scoring step's output files: every `*.out` under the job's `scores/` (in sub-folders
//! too), in key order. One worker delivers each; the Distributed Map's reader lists the same
//! prefix.

use recoflow_core::job::JobId;
use recoflow_core::ports::ObjectStore;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// Where a job's scores are, under the results bucket.
pub(crate) fn scores_prefix(job_id: &JobId) -> String {
    format!("jobs/{job_id}/scores/")
}

pub(crate) fn is_score_file(key: &str) -> bool {
    key.ends_with(".out")
}

/// Every score file under `prefix`, through every page of the listing.
pub(crate) async fn score_files<P: DeliverPorts>(
    ports: &P,
    prefix: &str,
) -> Result<Vec<String>, DeliverError> {
    let bucket = &ports.settings().results_bucket;
    let mut files = Vec::new();
    let mut continuation: Option<String> = None;
    loop {
        let page = ports
            .objects()
            .list_page(bucket, prefix, None, continuation.as_deref())
            .await?;
        files.extend(page.keys.into_iter().filter(|key| is_score_file(key)));
        match page.continuation {
            Some(next) => continuation = Some(next),
            None => return Ok(files),
        }
    }
}

/// The score files; a scoring step that wrote none fails the delivery.
pub(crate) async fn some_score_files<P: DeliverPorts>(
    ports: &P,
    prefix: &str,
) -> Result<Vec<String>, DeliverError> {
    let files = score_files(ports, prefix).await?;
    if files.is_empty() {
        return Err(DeliverError::ScoresInvalid(format!(
            "no scores (*.out) under s3://{}/{prefix}: the scoring step wrote nothing",
            ports.settings().results_bucket
        )));
    }
    Ok(files)
}
