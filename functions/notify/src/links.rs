//! The links a message carries: a job's execution in the console, its record in the API, the
//! logs of the function its failure came from; a result set's view on the web page and the
//! promote view of a held version.

use recoflow_core::job::JobRecord;
use recoflow_core::notification::{
    execution_console_url, logs_console_url, promote_page_url, result_set_page_url, Links, ResultSetLinks,
};
use recoflow_core::ports::SecretSource;

use crate::ports::NotifyPorts;

/// The REST API's base URL (the web page is under it). A link the reader can do without: no
/// answer is no link.
async fn api_url<P: NotifyPorts>(ports: &P) -> Option<String> {
    let url = ports.api_url().secret().await.ok().flatten()?;
    (!url.is_empty()).then(|| url.trim_end_matches('/').to_owned())
}

fn job_url(api_url: &str, record: &JobRecord) -> String {
    format!("{api_url}/jobs/{}", record.job_id)
}

pub async fn links<P: NotifyPorts>(ports: &P, record: &JobRecord) -> Links {
    let settings = ports.settings();
    Links {
        execution: record
            .execution_arn
            .as_deref()
            .map(|arn| execution_console_url(&settings.region, arn)),
        job: api_url(ports).await.map(|api| job_url(&api, record)),
        logs: settings
            .state_functions
            .for_failure(record.failure.as_ref())
            .map(|function| logs_console_url(&settings.region, function)),
    }
}

/// The result set's page, the promote view of `version`, and the job.
pub async fn held_links<P: NotifyPorts>(
    ports: &P,
    record: &JobRecord,
    result_set: &str,
    version: &str,
) -> ResultSetLinks {
    let Some(api) = api_url(ports).await else {
        return ResultSetLinks::default();
    };
    ResultSetLinks {
        page: Some(result_set_page_url(&api, result_set)),
        promote: Some(promote_page_url(&api, result_set, version)),
        job: Some(job_url(&api, record)),
    }
}

/// The result set's view on the web page.
pub async fn result_set_page<P: NotifyPorts>(ports: &P, result_set: &str) -> Option<String> {
    api_url(ports)
        .await
        .map(|api| result_set_page_url(&api, result_set))
}
