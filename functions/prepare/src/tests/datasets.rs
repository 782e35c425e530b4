//! Data files that are missing or lack a column are named before anything runs.

use recoflow_aws::lambda::named_diagnostic;

use super::{ports_with_job, task};
use crate::handler::handle;

#[tokio::test]
async fn a_missing_file_is_named() {
    let (ports, job_id) = ports_with_job(true);
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert!(
        err.to_string().contains("dataset.interactions: s3://data/i.csv"),
        "{err}"
    );
    assert_eq!(named_diagnostic(&err).error_type, "DatasetMissing");
}

#[tokio::test]
async fn a_missing_column_is_named() {
    let (ports, job_id) = ports_with_job(true);
    ports.objects.insert("data", "i.csv", "USER_ID,ITEM_ID\nu1,i1\n");
    let err = handle(&ports, task(&job_id)).await.unwrap_err();
    assert!(
        err.to_string().contains("lacks required column(s) TIMESTAMP"),
        "{err}"
    );
    assert_eq!(named_diagnostic(&err).error_type, "DatasetInvalid");
}
