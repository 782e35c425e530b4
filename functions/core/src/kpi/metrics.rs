//! A placement's metrics over a range of days, per arm and day and in all (the answer of
//! `GET /placements/{p}/metrics`).
//!
//! Rates are per impression: CTR = clicks / impressions, add-to-cart rate = add-to-carts /
//! impressions, CVR = purchases / impressions (conversion per impression, so arms compare on
//! the same base), revenue per impression = revenue / impressions (an impression's revenue is
//! the `value` of its purchases; its variance assumes one purchase per impression at most).

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use time::Date;

use super::stats::{
    always_valid, binomial_test, mean_interval, wilson, ArmLook, Comparison, Interval, ALPHA, MIXTURE_SCALE,
};
use crate::events::aggregates::{day_text, AggregateRow, Counts};
use crate::placement::{ExperimentKind, Placement};

/// Longest range one call reads (a quarter).
pub const MAX_RANGE_DAYS: i64 = 92;

/// The compared KPIs, by their names in the answer.
pub const COMPARED: [&str; 4] = ["ctr", "add_to_cart_rate", "cvr", "revenue_per_impression"];

/// Counts and rates of one arm over a day or the range.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Kpis {
    pub impressions: i64,
    pub clicks: i64,
    pub add_to_cart: i64,
    pub purchases: i64,
    pub revenue: f64,
    pub ctr: Interval,
    pub add_to_cart_rate: Interval,
    pub cvr: Interval,
    pub revenue_per_impression: Interval,
}

impl Kpis {
    pub fn of(counts: &Counts) -> Self {
        let n = counts.impressions;
        Self {
            impressions: n,
            clicks: counts.clicks,
            add_to_cart: counts.add_to_cart,
            purchases: counts.purchases,
            revenue: counts.revenue,
            ctr: wilson(counts.clicks, n),
            add_to_cart_rate: wilson(counts.add_to_cart, n),
            cvr: wilson(counts.purchases, n),
            revenue_per_impression: mean_interval(counts.revenue, counts.revenue_sq, n),
        }
    }
}

/// A compared KPI's per-impression look at cumulated counts.
fn look(kpi: &str, counts: &Counts) -> ArmLook {
    let n = counts.impressions;
    match kpi {
        "ctr" => ArmLook::rate(counts.clicks, n),
        "add_to_cart_rate" => ArmLook::rate(counts.add_to_cart, n),
        "cvr" => ArmLook::rate(counts.purchases, n),
        _ => ArmLook::mean(counts.revenue, counts.revenue_sq, n),
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DayKpis {
    pub day: String,
    #[serde(flatten)]
    pub kpis: Kpis,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ArmMetrics {
    pub arm: String,
    /// What the placement serves on this arm now (absent for an arm only the data knows).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result_set: Option<String>,
    /// The versions its events were served from.
    pub versions: Vec<String>,
    pub total: Kpis,
    /// Every day of the range, in order (days without events have zero counts).
    pub days: Vec<DayKpis>,
    /// A/B arms after the first: each compared KPI's difference against the first arm.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub versus_first: Option<BTreeMap<&'static str, Comparison>>,
    /// Interleaving: interleaved impressions this arm's team won.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub wins: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Preference {
    /// The experiment's two arms; the share is the second's.
    pub arms: [String; 2],
    pub wins: [i64; 2],
    /// Second arm's wins over both arms' wins, with its Wilson interval.
    pub preference_share: Interval,
    /// Two-sided exact binomial test of the share against 0.5.
    pub p_value: f64,
    pub significant: bool,
}

/// How the numbers were tested, for whoever reads them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TestMethod {
    pub alpha: f64,
    pub ab: &'static str,
    pub mixture_scale: f64,
    pub interleaving: &'static str,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PlacementMetrics {
    pub placement: String,
    pub from: String,
    pub to: String,
    /// `ab` or `interleaving` when the placement runs a test.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub experiment: Option<&'static str>,
    pub arms: Vec<ArmMetrics>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interleaving: Option<Preference>,
    pub test: TestMethod,
}

/// The metrics of `rows` (the placement's aggregates of `from..=to`), arms in the placement's
/// order (`placement`: its current document, if it has one), then arms only the data names.
pub fn placement_metrics(
    name: &str,
    placement: Option<&Placement>,
    rows: &[AggregateRow],
    from: Date,
    to: Date,
) -> PlacementMetrics {
    let days: Vec<Date> = std::iter::successors(Some(from), |d| d.next_day().filter(|d| *d <= to)).collect();
    let declared: Vec<(String, String)> = placement
        .map(|p| {
            p.arms()
                .into_iter()
                .map(|(arm, rs)| (arm, rs.to_owned()))
                .collect()
        })
        .unwrap_or_default();
    let mut arm_names: Vec<String> = declared.iter().map(|(arm, _)| arm.clone()).collect();
    let seen: BTreeSet<&str> = rows.iter().map(|r| r.key.arm.as_str()).collect();
    arm_names.extend(
        seen.into_iter()
            .filter(|a| !declared.iter().any(|(d, _)| d == a))
            .map(str::to_owned),
    );

    let experiment = placement.and_then(|p| p.experiment.as_ref());
    let mut arms: Vec<ArmMetrics> = arm_names
        .iter()
        .map(|arm| arm_metrics(arm, &declared, rows, &days))
        .collect();
    let mut interleaving = None;
    if let Some(experiment) = experiment {
        let names: Vec<&str> = experiment.arms.iter().map(|a| a.name.as_str()).collect();
        match experiment.kind {
            ExperimentKind::Ab => compare_with_first(&mut arms, &names, rows, &days),
            ExperimentKind::Interleaving if names.len() == 2 => {
                interleaving = Some(preference([names[0], names[1]], &mut arms, rows));
            }
            ExperimentKind::Interleaving => {}
        }
    }
    PlacementMetrics {
        placement: name.to_owned(),
        from: day_text(from),
        to: day_text(to),
        experiment: experiment.map(|e| match e.kind {
            ExperimentKind::Ab => "ab",
            ExperimentKind::Interleaving => "interleaving",
        }),
        arms,
        interleaving,
        test: TestMethod {
            alpha: ALPHA,
            ab: "mSPRT, normal mixture N(0, (mixture_scale x first arm's mean)^2), always valid at daily looks",
            mixture_scale: MIXTURE_SCALE,
            interleaving: "exact two-sided binomial test of the preference share against 0.5",
        },
    }
}

/// An arm's counts per day of the range.
fn daily_counts(arm: &str, rows: &[AggregateRow], days: &[Date]) -> Vec<Counts> {
    days.iter()
        .map(|day| {
            let mut counts = Counts::default();
            for row in rows.iter().filter(|r| r.key.arm == arm && r.key.day == *day) {
                counts.add(&row.counts);
            }
            counts
        })
        .collect()
}

fn arm_metrics(arm: &str, declared: &[(String, String)], rows: &[AggregateRow], days: &[Date]) -> ArmMetrics {
    let daily = daily_counts(arm, rows, days);
    let mut total = Counts::default();
    daily.iter().for_each(|c| total.add(c));
    let versions: BTreeSet<String> = rows
        .iter()
        .filter(|r| r.key.arm == arm)
        .map(|r| r.key.version.clone())
        .collect();
    ArmMetrics {
        arm: arm.to_owned(),
        result_set: declared.iter().find(|(a, _)| a == arm).map(|(_, rs)| rs.clone()),
        versions: versions.into_iter().collect(),
        total: Kpis::of(&total),
        days: days
            .iter()
            .zip(&daily)
            .map(|(day, counts)| DayKpis {
                day: day_text(*day),
                kpis: Kpis::of(counts),
            })
            .collect(),
        versus_first: None,
        wins: None,
    }
}

/// Cumulated counts at the end of each day.
fn cumulated(daily: &[Counts]) -> Vec<Counts> {
    daily
        .iter()
        .scan(Counts::default(), |sum, day| {
            sum.add(day);
            Some(*sum)
        })
        .collect()
}

/// Each A/B arm after the first against the first, one look per day.
fn compare_with_first(arms: &mut [ArmMetrics], names: &[&str], rows: &[AggregateRow], days: &[Date]) {
    let Some((first, others)) = names.split_first() else {
        return;
    };
    let baseline = cumulated(&daily_counts(first, rows, days));
    for other in others {
        let candidate = cumulated(&daily_counts(other, rows, days));
        let comparisons = COMPARED
            .iter()
            .map(|kpi| {
                let looks: Vec<(ArmLook, ArmLook)> = baseline
                    .iter()
                    .zip(&candidate)
                    .map(|(a, b)| (look(kpi, a), look(kpi, b)))
                    .collect();
                (*kpi, always_valid(&looks))
            })
            .collect();
        if let Some(arm) = arms.iter_mut().find(|a| a.arm == *other) {
            arm.versus_first = Some(comparisons);
        }
    }
}

fn preference(names: [&str; 2], arms: &mut [ArmMetrics], rows: &[AggregateRow]) -> Preference {
    let wins = names.map(|name| {
        rows.iter()
            .filter(|r| r.key.arm == name)
            .map(|r| r.counts.wins)
            .sum::<i64>()
    });
    for (name, won) in names.iter().zip(wins) {
        if let Some(arm) = arms.iter_mut().find(|a| a.arm == *name) {
            arm.wins = Some(won);
        }
    }
    let decided = (wins[0] + wins[1]).max(0);
    let p_value = binomial_test(wins[1].max(0) as u64, decided as u64);
    Preference {
        arms: names.map(str::to_owned),
        wins,
        preference_share: wilson(wins[1], decided),
        p_value,
        significant: p_value < ALPHA,
    }
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::events::aggregates::AggregateKey;
    use crate::placement::validation::validate_placement;

    fn row(arm: &str, day: Date, impressions: i64, clicks: i64, revenue: f64) -> AggregateRow {
        AggregateRow {
            key: AggregateKey {
                placement: "home-top".into(),
                day,
                arm: arm.into(),
                version: format!("v-{arm}"),
            },
            counts: Counts {
                impressions,
                clicks,
                purchases: i64::from(revenue > 0.0),
                revenue,
                revenue_sq: revenue * revenue,
                ..Counts::default()
            },
        }
    }

    fn ab() -> Placement {
        validate_placement(
            br#"{"schema_version": 1, "placement": "home-top",
                 "experiment": {"type": "ab", "salt": "s", "arms": [
                   {"name": "a", "result_set": "rs-a"}, {"name": "b", "result_set": "rs-b"}]}}"#,
        )
        .unwrap()
    }

    #[test]
    fn a_small_known_event_set_gives_these_numbers() {
        let (d1, d2) = (date!(2026 - 12 - 01), date!(2026 - 12 - 02));
        let rows = [
            row("a", d1, 100, 4, 0.0),
            row("b", d1, 100, 6, 10.0),
            row("b", d2, 50, 1, 0.0),
            row("legacy", d2, 5, 0, 0.0),
        ];
        let metrics = placement_metrics("home-top", Some(&ab()), &rows, d1, date!(2026 - 12 - 03));
        assert_eq!(metrics.experiment, Some("ab"));
        let names: Vec<&str> = metrics.arms.iter().map(|a| a.arm.as_str()).collect();
        assert_eq!(names, ["a", "b", "legacy"]);
        let b = &metrics.arms[1];
        assert_eq!(b.result_set.as_deref(), Some("rs-b"));
        assert_eq!(b.versions, ["v-b"]);
        assert_eq!(
            (b.total.impressions, b.total.clicks, b.total.purchases),
            (150, 7, 1)
        );
        assert_eq!(b.total.ctr.value, Some(7.0 / 150.0));
        assert_eq!(b.total.revenue_per_impression.value, Some(10.0 / 150.0));
        assert_eq!(b.days.len(), 3, "every day of the range");
        assert_eq!(b.days[2].kpis.impressions, 0);
        assert_eq!(b.days[2].kpis.ctr, Interval::UNKNOWN);
        let versus = b.versus_first.as_ref().unwrap();
        assert_eq!(versus.len(), 4);
        let ctr = versus["ctr"];
        assert!((ctr.difference.unwrap() - (7.0 / 150.0 - 0.04)).abs() < 1e-12);
        assert!(!ctr.significant && ctr.p_value <= 1.0);
        assert!(
            metrics.arms[0].versus_first.is_none(),
            "the first arm is the baseline"
        );
        assert!(metrics.arms[2].result_set.is_none());
    }

    #[test]
    fn interleaving_reports_the_preference_share_and_its_test() {
        let placement = validate_placement(
            br#"{"schema_version": 1, "placement": "home-top",
                 "experiment": {"type": "interleaving", "arms": [
                   {"name": "a", "result_set": "rs-a"}, {"name": "b", "result_set": "rs-b"}]}}"#,
        )
        .unwrap();
        let day = date!(2026 - 12 - 01);
        let mut a = row("a", day, 20, 5, 0.0);
        a.counts.wins = 5;
        let mut b = row("b", day, 20, 15, 0.0);
        b.counts.wins = 15;
        let metrics = placement_metrics("home-top", Some(&placement), &[a, b], day, day);
        let preference = metrics.interleaving.unwrap();
        assert_eq!(preference.wins, [5, 15]);
        assert_eq!(preference.preference_share.value, Some(0.75));
        assert!((preference.p_value - 0.041389).abs() < 1e-5);
        assert!(preference.significant);
        assert_eq!(metrics.arms[1].wins, Some(15));
    }
}
