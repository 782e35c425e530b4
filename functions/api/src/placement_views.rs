//! What the placement routes share: how a placement is shown (allow-listed views), its lookup,
//! and the one way a revision is written (put and delete alike).

use recoflow_core::clock::Clock;
use recoflow_core::placement::{ExperimentKind, Placement, PlacementRecord};
use recoflow_core::ports::PlacementStore;
use serde::Serialize;

use crate::experiment_ports::ExperimentPorts;
use crate::ports::ApiPorts;
use crate::response::{ApiError, ErrorCode};
use crate::result_set_lookup::is_result_set_name;

/// Tries of a revision's write when other writes come first (each one reads again).
const WRITE_ATTEMPTS: u32 = 3;

/// A placement name follows the result-set rule (lower-case letters, digits, hyphens).
pub fn is_placement_name(name: &str) -> bool {
    is_result_set_name(name)
}

pub fn placement_not_found(name: &str) -> ApiError {
    ApiError::new(
        ErrorCode::PlacementNotFound,
        format!("no placement \"{name}\" exists; create it with PUT /placements/{{placement}}"),
    )
}

/// One arm as the page and the CLI show it: what it serves and its share of the test.
#[derive(Debug, Serialize)]
pub struct ArmView<'a> {
    pub arm: String,
    pub result_set: &'a str,
    /// `rule`, `ab`, `interleaving` or `default`.
    pub kind: &'static str,
    /// A/B: the arm's share of the users in the test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub share: Option<f64>,
}

pub fn arm_views(placement: &Placement) -> Vec<ArmView<'_>> {
    let mut arms: Vec<ArmView<'_>> = placement
        .rules
        .iter()
        .enumerate()
        .map(|(i, rule)| ArmView {
            arm: rule.arm_name(i),
            result_set: &rule.result_set,
            kind: "rule",
            share: None,
        })
        .collect();
    if let Some(experiment) = &placement.experiment {
        let total: u32 = experiment.arms.iter().map(|a| a.weight.unwrap_or(1)).sum();
        arms.extend(experiment.arms.iter().map(|arm| {
            ArmView {
                arm: arm.name.clone(),
                result_set: &arm.result_set,
                kind: match experiment.kind {
                    ExperimentKind::Ab => "ab",
                    ExperimentKind::Interleaving => "interleaving",
                },
                share: (experiment.kind == ExperimentKind::Ab && total > 0)
                    .then(|| f64::from(arm.weight.unwrap_or(1)) / f64::from(total)),
            }
        }));
    } else if let Some(result_set) = &placement.result_set {
        arms.push(ArmView {
            arm: recoflow_core::placement::DEFAULT_ARM.to_owned(),
            result_set,
            kind: "default",
            share: None,
        });
    }
    arms
}

/// A placement's revision: its document, who wrote it and when, and its arms.
#[derive(Debug, Serialize)]
pub struct PlacementView<'a> {
    pub placement: &'a str,
    pub revision: u64,
    pub updated_by: &'a str,
    pub updated_at: &'a str,
    pub document: &'a Placement,
    pub arms: Vec<ArmView<'a>>,
}

impl<'a> PlacementView<'a> {
    /// `None` for a delete.
    pub fn of(record: &'a PlacementRecord) -> Option<Self> {
        let document = record.document.as_ref()?;
        Some(Self {
            placement: &record.placement,
            revision: record.revision,
            updated_by: &record.updated_by,
            updated_at: &record.updated_at,
            document,
            arms: arm_views(document),
        })
    }
}

/// One entry of a placement's history.
#[derive(Debug, Serialize)]
pub struct RevisionView<'a> {
    pub revision: u64,
    /// `put` or `delete`.
    pub action: &'static str,
    pub updated_by: &'a str,
    pub updated_at: &'a str,
}

impl<'a> RevisionView<'a> {
    pub fn of(record: &'a PlacementRecord) -> Self {
        Self {
            revision: record.revision,
            action: if record.is_deleted() { "delete" } else { "put" },
            updated_by: &record.updated_by,
            updated_at: &record.updated_at,
        }
    }
}

/// Writes the placement's next revision (`None`: deleted) by `by`, on top of whatever revision
/// is latest when it writes (a put replaces the whole document: the last one written wins,
/// every one stays in the history). `must_exist`: refused when there is no live placement.
pub async fn write_revision<P: ApiPorts>(
    ports: &P,
    name: &str,
    document: Option<Placement>,
    by: &str,
    must_exist: bool,
) -> Result<PlacementRecord, ApiError> {
    for _ in 0..WRITE_ATTEMPTS {
        let latest = ports
            .experiments()
            .placements()
            .latest(name)
            .await
            .map_err(ApiError::service)?;
        if must_exist && latest.as_ref().is_none_or(PlacementRecord::is_deleted) {
            return Err(placement_not_found(name));
        }
        let record = PlacementRecord {
            placement: name.to_owned(),
            revision: latest.map_or(0, |r| r.revision) + 1,
            document: document.clone(),
            updated_by: by.to_owned(),
            updated_at: ports.clock().rfc3339_now(),
        };
        if ports
            .experiments()
            .placements()
            .write(&record)
            .await
            .map_err(ApiError::service)?
        {
            ports.experiments().placement_cache().forget(name);
            return Ok(record);
        }
    }
    Err(ApiError::new(
        ErrorCode::PlacementChanged,
        format!("placement \"{name}\" kept changing while this call wrote it; read it and try again"),
    ))
}
