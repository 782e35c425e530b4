//! Measuring a version while it is written (the quality gate's metrics, defined in
//! `recoflow_core::quality::metrics`): each score file's lists go into a [`MetricsPartial`],
//! every user's list compared with theirs in the version current when the delivery began. A
//! file's partial is kept with its progress once the file is written (`file_progress.rs`); the
//! partials are merged before the version is judged, so the measure is the same however the
//! work was split.

use std::collections::{HashMap, HashSet};

use recoflow_core::delivery::{Delivery, StoredList};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::{JobForm, Output};
use recoflow_core::job::JobId;
use recoflow_core::ports::RecommendationStore;
use recoflow_core::quality::{MetricsPartial, VersionMetrics};

use crate::error::DeliverError;
use crate::lists::scored_key;
use crate::ports::DeliverPorts;
use crate::stored::{read_json, write_json};

/// Where an audience version's metrics are kept (measured whole, as its audiences are written).
fn audience_metrics_key(job_id: &JobId) -> String {
    format!("jobs/{job_id}/metrics/audiences.json")
}

/// What a delivery measures its lists against.
#[derive(Debug, Clone)]
pub(crate) struct Measuring {
    result_set: String,
    /// The form's `num_results`: a list shorter is short, and overlap compares this many items.
    wanted: usize,
    previous_version: Option<String>,
    /// Users' lists or items' similar items: each is compared with its own kind.
    output: Output,
}

impl Measuring {
    pub fn of(form: &JobForm, delivery: &Delivery) -> Self {
        Self {
            output: form.output,
            result_set: form.result_set.clone(),
            wanted: form.num_results as usize,
            previous_version: delivery.previous_version.clone(),
        }
    }

    /// Adds a stretch's lists (as written: banned items removed; any left count as served) to
    /// `partial`; the comparison still to make with the previous version. `users[i]` is the
    /// user of `lists[i]`.
    pub fn add(
        &self,
        partial: &mut MetricsPartial,
        users: &[String],
        lists: &[StoredList],
        banned: &HashSet<String>,
    ) -> Comparison {
        for list in lists {
            partial.add_list(&list.items, &list.scores, self.wanted, banned);
        }
        let Some(previous) = &self.previous_version else {
            return Comparison::default();
        };
        let (previous_keys, current) = users
            .iter()
            .zip(lists)
            .map(|(user, list)| {
                let top: Vec<String> = list.items.iter().take(self.wanted).cloned().collect();
                (scored_key(self.output, &self.result_set, previous, user), top)
            })
            .unzip();
        Comparison {
            previous_keys,
            current,
            k: self.wanted,
        }
    }
}

/// A stretch's users, to compare with their lists in the previous version.
#[derive(Debug, Default)]
pub(crate) struct Comparison {
    previous_keys: Vec<String>,
    /// Each user's first `k` items in this version.
    current: Vec<Vec<String>>,
    k: usize,
}

impl Comparison {
    /// The users' lists in the previous version (one BatchGetItem per 100 users); users it
    /// did not list are absent.
    pub async fn previous<P: DeliverPorts>(
        &self,
        ports: &P,
    ) -> Result<HashMap<String, StoredList>, ServiceError> {
        if self.previous_keys.is_empty() {
            return Ok(HashMap::new());
        }
        ports.lists().get_lists(&self.previous_keys).await
    }

    /// The overlap of each user in both versions.
    pub fn add_overlaps(self, partial: &mut MetricsPartial, previous: &HashMap<String, StoredList>) {
        for (key, current) in self.previous_keys.iter().zip(&self.current) {
            if let Some(before) = previous.get(key) {
                partial.add_overlap(&before.items, current, self.k);
            }
        }
    }
}

/// Keeps an audience version's metrics for the gate.
pub(crate) async fn store_audience_metrics<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    metrics: &VersionMetrics,
) -> Result<(), DeliverError> {
    write_json(ports, &audience_metrics_key(job_id), AUDIENCE_METRICS, metrics).await
}

const AUDIENCE_METRICS: &str = "the audiences' metrics";

/// The version's metrics: every score file's partial (`merged`), with what the fallbacks
/// counted; an audience version's as they were measured when its audiences were written.
pub(crate) async fn version_metrics<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
    output: Output,
    delivery: &Delivery,
    merged: MetricsPartial,
) -> Result<VersionMetrics, DeliverError> {
    if output == Output::Audience {
        let key = audience_metrics_key(job_id);
        return read_json(ports, &key, AUDIENCE_METRICS).await?.ok_or_else(|| {
            DeliverError::ScoresInvalid(format!(
                "{AUDIENCE_METRICS} ({key}) are missing; nothing was published"
            ))
        });
    }
    Ok(merged.finish(
        delivery.catalogue_items,
        delivery.segments,
        delivery.fallback_banned,
        delivery.previous_version.is_some(),
    ))
}
