//! The quality gate's verdict on a written version (`recoflow_core::quality::gate`): its
//! metrics (every score file's merged), against the version it would replace and, for anomaly
//! bands, the result set's last published versions.

use recoflow_core::delivery::{Delivery, Pointer};
use recoflow_core::form::JobForm;
use recoflow_core::job::JobId;
use recoflow_core::ports::VersionStore;
use recoflow_core::quality::{evaluate, GateOutcome, MetricsPartial, VersionMetrics};

use crate::error::DeliverError;
use crate::measure::version_metrics;
use crate::ports::DeliverPorts;

/// Version records read per page while looking for the published ones.
const HISTORY_PAGE: u32 = 25;
/// Pages read at most: a result set with this many held or discarded versions in a row has
/// its band learnt from the published versions found among them.
const MAX_HISTORY_PAGES: u32 = 20;

#[derive(Debug)]
pub(crate) struct Verdict {
    pub metrics: VersionMetrics,
    pub outcome: GateOutcome,
}

/// Measures the version (`merged`: every score file's metrics) and checks it. `current` is the
/// result set's pointer as it stands.
pub(crate) async fn judge<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    form: &JobForm,
    delivery: &Delivery,
    current: Option<&Pointer>,
    merged: MetricsPartial,
) -> Result<Verdict, DeliverError> {
    let metrics = version_metrics(ports, job_id, form.output, delivery, merged).await?;
    // The version this one would replace: a publish retried after its pointer write finds
    // itself current already, and is compared with the one it replaced.
    let replaced = current.and_then(|pointer| {
        if pointer.version == delivery.version {
            pointer.previous_version.clone()
        } else {
            Some(pointer.version.clone())
        }
    });
    let replaced_metrics = match &replaced {
        Some(version) => ports
            .versions()
            .version(&form.result_set, version)
            .await?
            .and_then(|record| record.metrics),
        None => None,
    };
    let gate = form.quality_gate.as_ref();
    let history = match gate.and_then(|g| g.anomaly.as_ref()) {
        Some(anomaly) => {
            published_history(ports, &form.result_set, &delivery.version, anomaly.history).await?
        }
        None => Vec::new(),
    };
    let outcome = evaluate(gate, &metrics, replaced_metrics.as_ref(), &history);
    Ok(Verdict { metrics, outcome })
}

/// The metrics of the result set's last `wanted` published versions, oldest first: versions
/// held and never published, discarded ones, this one and those never measured are left out.
async fn published_history<P: DeliverPorts>(
    ports: &P,
    result_set: &str,
    this_version: &str,
    wanted: u32,
) -> Result<Vec<VersionMetrics>, DeliverError> {
    let wanted = wanted as usize;
    let mut found = Vec::with_capacity(wanted);
    let mut after: Option<String> = None;
    for _ in 0..MAX_HISTORY_PAGES {
        let (page, next) = ports
            .versions()
            .versions(result_set, HISTORY_PAGE, after.as_deref())
            .await?;
        let published = page.into_iter().filter(|record| {
            record.version != this_version && record.published_at.is_some() && record.discarded.is_none()
        });
        found.extend(published.filter_map(|record| record.metrics));
        if found.len() >= wanted || next.is_none() {
            break;
        }
        after = next;
    }
    found.truncate(wanted);
    found.reverse();
    Ok(found)
}
