//! Knowing whether a version is good before it serves: the metrics Deliver measures while it
//! writes a version (per score file, merged at the end), the quality gate that holds a bad
//! version back, and the bands that tell an anomaly from the result set's usual values.

pub mod bands;
pub mod gate;
pub mod metrics;

pub use bands::{robust_band, Band};
pub use gate::{evaluate, GateFailure, GateOutcome, OnFail, QualityGate};
pub use metrics::{Metric, MetricsPartial, VersionMetrics};
