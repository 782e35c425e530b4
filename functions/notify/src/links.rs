//! The links a job's message carries: its execution in the console, its record in the API, and
//! the logs of the function its failure came from.

use recoflow_core::job::JobRecord;
use recoflow_core::notification::{execution_console_url, logs_console_url, Links};
use recoflow_core::ports::SecretSource;

use crate::ports::NotifyPorts;

pub async fn links<P: NotifyPorts>(ports: &P, record: &JobRecord) -> Links {
    let settings = ports.settings();
    // A link the reader can do without: no answer is no link.
    let api_url = ports.api_url().secret().await.ok().flatten().unwrap_or_default();
    Links {
        execution: record
            .execution_arn
            .as_deref()
            .map(|arn| execution_console_url(&settings.region, arn)),
        job: (!api_url.is_empty())
            .then(|| format!("{}/jobs/{}", api_url.trim_end_matches('/'), record.job_id)),
        logs: settings
            .state_functions
            .for_failure(record.failure.as_ref())
            .map(|function| logs_console_url(&settings.region, function)),
    }
}
