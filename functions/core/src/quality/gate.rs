//! The quality gate: rules a version's metrics must meet before it is made current. A form may
//! set its own (`quality_gate`); without one the default gate applies. Whatever the form says,
//! a version that serves a banned item never publishes.
//!
//! Rules, each failure naming the rule, the metric, the value and the bound:
//! - `min` / `max`: absolute bounds.
//! - `max_change`: the relative change against the current version, |new − current| / current.
//! - `anomaly`: outside the band of the result set's last `history` published versions
//!   (`bands::robust_band`); skipped, with a note, while fewer than `bands::MIN_HISTORY` exist.
//! - `never_banned`: `banned_served` must be 0 (always).
//! - default gate (no block): at least one personal list (`min`), and `users_personalized` not
//!   down more than 50 % against the current version (`max_drop`).

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::bands::{robust_band, MIN_HISTORY};
use super::metrics::{Metric, VersionMetrics};

/// The default gate's largest drop of `users_personalized` against the current version.
pub const DEFAULT_MAX_DROP: f64 = 0.5;
/// Versions of history an anomaly band learns from unless the form says otherwise.
pub const DEFAULT_ANOMALY_HISTORY: u32 = 8;

/// What happens to a version that fails the gate.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OnFail {
    /// Written but not published; the job ends `HELD`; the current version keeps serving.
    #[default]
    Hold,
    /// The job ends `FAILED` (`QualityGateFailed`).
    Fail,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AnomalyRule {
    pub metrics: Vec<Metric>,
    #[serde(default = "default_history")]
    pub history: u32,
}

fn default_history() -> u32 {
    DEFAULT_ANOMALY_HISTORY
}

/// The form's `quality_gate` block.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QualityGate {
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub min: BTreeMap<Metric, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max: BTreeMap<Metric, f64>,
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub max_change: BTreeMap<Metric, f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anomaly: Option<AnomalyRule>,
    #[serde(default)]
    pub on_fail: OnFail,
}

/// One rule a version failed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GateFailure {
    pub rule: String,
    pub metric: Metric,
    pub value: f64,
    /// The bound the value crossed: the limit for `min`/`max`, the relative change allowed for
    /// `max_change`/`max_drop`, the band's edge for `anomaly`.
    pub bound: f64,
    /// The current version's value (`max_change`, `max_drop`) or the band's median (`anomaly`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous: Option<f64>,
}

/// The gate's verdict on a version.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct GateOutcome {
    pub passed: bool,
    #[serde(default)]
    pub failures: Vec<GateFailure>,
    /// Rules that could not be checked yet, and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub notes: Vec<String>,
    /// `form` (the form's block) or `default`.
    pub rules: String,
    #[serde(default)]
    pub on_fail: OnFail,
}

struct Check<'a> {
    metrics: &'a VersionMetrics,
    failures: Vec<GateFailure>,
    notes: Vec<String>,
}

impl Check<'_> {
    fn value(&mut self, metric: Metric, rule: &str) -> Option<f64> {
        let value = self.metrics.get(metric);
        if value.is_none() {
            self.notes.push(format!(
                "{rule} {metric}: this version has no {metric}; not checked"
            ));
        }
        value
    }

    fn fail(&mut self, rule: &str, metric: Metric, value: f64, bound: f64, previous: Option<f64>) {
        self.failures.push(GateFailure {
            rule: rule.to_owned(),
            metric,
            value,
            bound,
            previous,
        });
    }

    fn bounds(&mut self, rule: &str, bounds: &BTreeMap<Metric, f64>, fails: impl Fn(f64, f64) -> bool) {
        for (&metric, &bound) in bounds {
            if let Some(value) = self.value(metric, rule) {
                if fails(value, bound) {
                    self.fail(rule, metric, value, bound, None);
                }
            }
        }
    }

    /// Relative change against the current version; `drop_only` counts only falls.
    fn changes(
        &mut self,
        rule: &str,
        bounds: &BTreeMap<Metric, f64>,
        current: Option<&VersionMetrics>,
        drop_only: bool,
    ) {
        let Some(current) = current else {
            if !bounds.is_empty() {
                self.notes
                    .push(format!("{rule}: no current version to compare with; not checked"));
            }
            return;
        };
        for (&metric, &bound) in bounds {
            let (Some(value), Some(previous)) = (self.value(metric, rule), current.get(metric)) else {
                continue;
            };
            let delta = if drop_only {
                previous - value
            } else {
                (value - previous).abs()
            };
            let change = if previous.abs() > f64::EPSILON {
                delta / previous.abs()
            } else if delta > f64::EPSILON {
                f64::INFINITY
            } else {
                0.0
            };
            if change > bound {
                self.fail(rule, metric, value, bound, Some(previous));
            }
        }
    }

    fn anomalies(&mut self, rule: &AnomalyRule, history: &[VersionMetrics]) {
        let take = rule.history.max(1) as usize;
        let recent = &history[history.len().saturating_sub(take)..];
        for &metric in &rule.metrics {
            let past: Vec<f64> = recent.iter().filter_map(|m| m.get(metric)).collect();
            let Some(band) = robust_band(&past) else {
                self.notes.push(format!(
                    "anomaly {metric}: {} earlier version(s) with it; the band needs {MIN_HISTORY}",
                    past.len()
                ));
                continue;
            };
            let Some(value) = self.value(metric, "anomaly") else {
                continue;
            };
            if !band.contains(value) {
                let edge = if value < band.low { band.low } else { band.high };
                self.fail("anomaly", metric, value, edge, Some(band.median));
            }
        }
    }
}

/// Checks a version's metrics: `current` is the serving version's, `history` the result set's
/// earlier published versions' (oldest first).
pub fn evaluate(
    gate: Option<&QualityGate>,
    metrics: &VersionMetrics,
    current: Option<&VersionMetrics>,
    history: &[VersionMetrics],
) -> GateOutcome {
    let mut check = Check {
        metrics,
        failures: Vec::new(),
        notes: Vec::new(),
    };
    if metrics.banned_served > 0 {
        check.fail(
            "never_banned",
            Metric::BannedServed,
            metrics.banned_served as f64,
            0.0,
            None,
        );
    }
    let rules = match gate {
        Some(gate) => {
            check.bounds("min", &gate.min, |value, bound| value < bound);
            check.bounds("max", &gate.max, |value, bound| value > bound);
            check.changes("max_change", &gate.max_change, current, false);
            if let Some(anomaly) = &gate.anomaly {
                check.anomalies(anomaly, history);
            }
            "form"
        }
        None => {
            check.bounds(
                "min",
                &[(Metric::UsersPersonalized, 1.0)].into(),
                |value, bound| value < bound,
            );
            check.changes(
                "max_drop",
                &[(Metric::UsersPersonalized, DEFAULT_MAX_DROP)].into(),
                current,
                true,
            );
            "default"
        }
    };
    GateOutcome {
        passed: check.failures.is_empty(),
        failures: check.failures,
        notes: check.notes,
        rules: rules.to_owned(),
        on_fail: gate.map(|g| g.on_fail).unwrap_or_default(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn metrics(users: u64, coverage: f64) -> VersionMetrics {
        VersionMetrics {
            users_personalized: users,
            catalog_coverage: Some(coverage),
            mean_list_length: 10.0,
            ..VersionMetrics::default()
        }
    }

    fn gate(json: serde_json::Value) -> QualityGate {
        serde_json::from_value(json).unwrap()
    }

    #[test]
    fn bounds_and_changes_name_the_rule_the_value_and_the_bound() {
        let gate = gate(serde_json::json!({
            "min": {"catalog_coverage": 0.05, "users_personalized": 1000},
            "max_change": {"users_personalized": 0.2}
        }));
        // The case: a users file with 10 % of the users.
        let outcome = evaluate(
            Some(&gate),
            &metrics(2_000, 0.3),
            Some(&metrics(20_000, 0.3)),
            &[],
        );
        assert!(!outcome.passed);
        assert_eq!(
            outcome.failures,
            [GateFailure {
                rule: "max_change".into(),
                metric: Metric::UsersPersonalized,
                value: 2_000.0,
                bound: 0.2,
                previous: Some(20_000.0)
            }]
        );
        let low = evaluate(Some(&gate), &metrics(500, 0.01), None, &[]);
        let rules: Vec<(&str, Metric)> = low.failures.iter().map(|f| (f.rule.as_str(), f.metric)).collect();
        assert_eq!(
            rules,
            [
                ("min", Metric::UsersPersonalized),
                ("min", Metric::CatalogCoverage)
            ]
        );
        assert!(
            low.notes.iter().any(|n| n.contains("no current version")),
            "{:?}",
            low.notes
        );
        assert_eq!(low.on_fail, OnFail::Hold);
    }

    #[test]
    fn the_default_gate_holds_an_empty_or_halved_version() {
        assert!(evaluate(None, &metrics(100, 0.2), Some(&metrics(150, 0.2)), &[]).passed);
        let halved = evaluate(None, &metrics(40, 0.2), Some(&metrics(100, 0.2)), &[]);
        assert_eq!(halved.failures[0].rule, "max_drop");
        assert_eq!(halved.rules, "default");
        // Growing is no drop.
        assert!(evaluate(None, &metrics(1_000, 0.2), Some(&metrics(100, 0.2)), &[]).passed);
        let empty = evaluate(None, &metrics(0, 0.0), None, &[]);
        assert_eq!(empty.failures[0].rule, "min");
    }

    #[test]
    fn a_banned_item_never_publishes_whatever_the_form_says() {
        let mut served = metrics(100, 0.2);
        served.banned_served = 1;
        let lenient = gate(serde_json::json!({"min": {"users_personalized": 0}}));
        for outcome in [
            evaluate(Some(&lenient), &served, None, &[]),
            evaluate(None, &served, None, &[]),
        ] {
            assert!(!outcome.passed);
            assert_eq!(outcome.failures[0].rule, "never_banned");
        }
    }

    /// The acceptance case: seven versions with stable coverage, then an eighth at a
    /// third of it is held by the anomaly rule alone; one inside the band publishes.
    #[test]
    fn an_anomaly_is_a_value_outside_the_band_of_the_last_versions() {
        let gate = gate(
            serde_json::json!({"anomaly": {"metrics": ["catalog_coverage", "top1pct_share"], "history": 8}}),
        );
        let history: Vec<VersionMetrics> = [0.30, 0.31, 0.29, 0.30, 0.32, 0.30, 0.31]
            .into_iter()
            .map(|c| metrics(1_000, c))
            .collect();
        let current = history.last();
        let dropped = evaluate(Some(&gate), &metrics(1_000, 0.10), current, &history);
        assert_eq!(dropped.failures.len(), 1, "{dropped:?}");
        assert_eq!(dropped.failures[0].rule, "anomaly");
        assert_eq!(dropped.failures[0].metric, Metric::CatalogCoverage);
        assert!(
            dropped.notes.iter().any(|n| n.contains("top1pct_share")),
            "no top1pct history: noted"
        );
        assert!(evaluate(Some(&gate), &metrics(1_000, 0.305), current, &history).passed);
        // With too little history the rule waits.
        let early = evaluate(Some(&gate), &metrics(1_000, 0.10), current, &history[..3]);
        assert!(
            early.passed && early.notes.iter().any(|n| n.contains("needs 5")),
            "{early:?}"
        );
    }

    #[test]
    fn the_block_reads_as_the_form_writes_it() {
        let gate = gate(serde_json::json!({
            "min": {"catalog_coverage": 0.05},
            "max": {"top1pct_share": 0.5},
            "max_change": {"users_personalized": 0.2, "catalog_coverage": 0.5},
            "anomaly": {"metrics": ["catalog_coverage"]},
            "on_fail": "fail"
        }));
        assert_eq!(gate.on_fail, OnFail::Fail);
        assert_eq!(gate.anomaly.unwrap().history, DEFAULT_ANOMALY_HISTORY);
        assert!(serde_json::from_value::<QualityGate>(serde_json::json!({"min": {"nonsense": 1}})).is_err());
    }
}
