//! A data file was written (an S3 event on the data bucket): every trigger watching it gets a
//! delayed check, which waits the trigger's quiet period before looking at the files.
//!
//! The event itself decides nothing: S3 delivers events at least once and not in the order
//! the objects were put (`localstack/CAPABILITIES.md`, item 9), so the check reads the files'
//! heads, which are the truth. The check is named by the object version the event names, so a
//! replayed event starts no second check.

use serde::{Deserialize, Serialize};
use serde_json::json;
use tracing::info;

use super::ports::{CheckStart, TriggerChecks, TriggerPorts, TriggerStore};
use super::record::TriggerState;
use super::TriggerId;
use crate::errors::ServiceError;
use crate::job::id::hex_digest;

/// One object written, as an S3 event record names it.
#[derive(Debug, Clone, PartialEq)]
pub struct DataWritten {
    pub bucket: String,
    /// Decoded (events carry keys URL-encoded).
    pub key: String,
    /// The object's version id, else its ETag (a bucket without versions).
    pub version: Option<String>,
}

/// What the trigger-check state machine starts with (and passes to each check).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CheckInput {
    pub trigger_id: TriggerId,
    /// How long the first wait is: the trigger's quiet period.
    pub wait_seconds: u32,
    /// Start the job even if its form and data are those of the last success.
    #[serde(default)]
    pub force: bool,
}

/// Starts a delayed check for every enabled trigger watching the written file; answers the
/// triggers a check was started for (one already started for this version counts).
pub async fn data_written<P: TriggerPorts>(
    ports: &P,
    written: &DataWritten,
) -> Result<Vec<TriggerId>, ServiceError> {
    let uri = format!("s3://{}/{}", written.bucket, written.key);
    let mut checked = Vec::new();
    for trigger_id in ports.triggers().watching(&uri).await? {
        let Some(record) = ports.triggers().get(&trigger_id).await? else {
            continue;
        };
        if record.state != TriggerState::Enabled {
            continue;
        }
        let input = CheckInput {
            trigger_id: trigger_id.clone(),
            wait_seconds: record.settings().quiet_seconds,
            force: false,
        };
        let name = check_name(&trigger_id, &uri, written.version.as_deref());
        let body = json!(input).to_string();
        let started = ports.checks().start_check(&name, &body).await?;
        info!(trigger_id = %trigger_id, %uri, check = %name, ?started, "data file written: trigger check started");
        if matches!(started, CheckStart::Started | CheckStart::AlreadyExists) {
            checked.push(trigger_id);
        }
    }
    Ok(checked)
}

/// The check's execution name: the same trigger, file and version always give the same name
/// (Step Functions refuses a second execution of one name), within the 80 characters allowed.
pub fn check_name(trigger_id: &TriggerId, uri: &str, version: Option<&str>) -> String {
    let digest = hex_digest(&["trigger-check", trigger_id.as_str(), uri, version.unwrap_or("")]);
    format!("check-{}", &digest[..40])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fakes::FakeSubmitPorts;
    use crate::trigger::create::register_trigger;
    use crate::trigger::create::tests::trigger_record;

    fn written(key: &str, version: &str) -> DataWritten {
        DataWritten {
            bucket: "data".into(),
            key: key.into(),
            version: Some(version.into()),
        }
    }

    #[tokio::test]
    async fn a_watched_file_starts_one_check_per_version_and_others_none() {
        let ports = FakeSubmitPorts::default();
        let record = trigger_record("d");
        register_trigger(&ports.triggers, &record).await.unwrap();

        let started = data_written(&ports, &written("i.csv", "v1")).await.unwrap();
        assert_eq!(started, std::slice::from_ref(&record.trigger_id));
        // The same event again: the check exists, nothing new starts.
        data_written(&ports, &written("i.csv", "v1")).await.unwrap();
        data_written(&ports, &written("u.csv", "v7")).await.unwrap();
        assert!(data_written(&ports, &written("other.csv", "v1"))
            .await
            .unwrap()
            .is_empty());
        let checks = ports.checks.started();
        assert_eq!(checks.len(), 2, "{checks:?}");
        let input: CheckInput = serde_json::from_str(&checks[0].1).unwrap();
        assert_eq!((input.wait_seconds, input.force), (60, false));
        assert!(checks.iter().all(|(name, _)| name.len() <= 80));
    }
}
