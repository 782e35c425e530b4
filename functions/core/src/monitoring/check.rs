//! A placement's KPIs on one day against their seasonal bands: which are inside, which broke
//! out (and so open an alert), which cannot be judged yet.

use time::Date;

use super::band::{seasonal_band, BandError, SeasonalBand, MAX_HISTORY_DAYS};
use super::series::DayTotals;
use super::triage::{triage, DayContext};
use super::{Direction, Expected, Kpi, KpiAlert, Sensitivity};
use crate::events::aggregates::day_text;

/// Days of history the band of a day is learnt from, the checked day not included.
pub const HISTORY_DAYS: usize = MAX_HISTORY_DAYS;
/// Past days a chart shows before the checked one (four weeks).
pub const CHART_DAYS: usize = 28;

/// What the check found for one KPI.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Inside(Expected),
    Outside {
        expected: Expected,
        direction: Direction,
    },
    /// No band: too little history, or the forecast failed (the reason).
    NotJudged(String),
    /// The day has no value (a rate on a day without impressions).
    NoValue,
}

/// One KPI's check, with what its chart shows: the last days, their values and bands.
#[derive(Debug, Clone, PartialEq)]
pub struct KpiCheck {
    pub kpi: Kpi,
    pub day: Date,
    pub value: f64,
    pub verdict: Verdict,
    /// Up to [`CHART_DAYS`] days before the checked one and the checked one, oldest first:
    /// `(day, value (NaN: none), band)`.
    pub chart: Vec<(Date, f64, Option<Expected>)>,
}

impl KpiCheck {
    pub fn is_breach(&self) -> bool {
        matches!(self.verdict, Verdict::Outside { .. })
    }
}

/// Checks every KPI of the last day of `totals` (the days before it are the history, oldest
/// first, at most [`HISTORY_DAYS`] of them used).
pub fn check_day(totals: &[DayTotals], sensitivity: Sensitivity) -> Vec<KpiCheck> {
    let Some((today, before)) = totals.split_last() else {
        return Vec::new();
    };
    let before = &before[before.len().saturating_sub(HISTORY_DAYS)..];
    let level = sensitivity.interval_level();
    <Kpi as strum::IntoEnumIterator>::iter()
        .map(|kpi| {
            let history: Vec<f64> = before.iter().map(|d| kpi.value(&d.counts)).collect();
            let value = kpi.value(&today.counts);
            let band = seasonal_band(&history, level, 0.0);
            let verdict = match (&band, value.is_finite()) {
                (_, false) => Verdict::NoValue,
                (Ok(band), true) if band.next.contains(value) => Verdict::Inside(band.next),
                (Ok(band), true) => Verdict::Outside {
                    expected: band.next,
                    direction: if value < band.next.low {
                        Direction::Below
                    } else {
                        Direction::Above
                    },
                },
                (Err(err), true) => Verdict::NotJudged(err.to_string()),
            };
            KpiCheck {
                kpi,
                day: today.day,
                value,
                verdict,
                chart: chart_days(before, &history, today, value, &band),
            }
        })
        .collect()
}

fn chart_days(
    before: &[DayTotals],
    history: &[f64],
    today: &DayTotals,
    value: f64,
    band: &Result<SeasonalBand, BandError>,
) -> Vec<(Date, f64, Option<Expected>)> {
    let first = before.len().saturating_sub(CHART_DAYS);
    let past_band = |i: usize| band.as_ref().ok().and_then(|b| b.past.get(i).copied().flatten());
    (first..before.len())
        .map(|i| (before[i].day, history[i], past_band(i)))
        .chain([(today.day, value, band.as_ref().ok().map(|b| b.next))])
        .collect()
}

/// The alerts of a day's breaches, each with its triage hint.
pub fn breaches(
    placement: &str,
    checks: &[KpiCheck],
    totals: &[DayTotals],
    placement_changed: Option<u64>,
    opened_at: &str,
) -> Vec<KpiAlert> {
    let Some((today, before)) = totals.split_last() else {
        return Vec::new();
    };
    let impressions_band = checks.iter().find_map(|c| match (&c.kpi, &c.verdict) {
        (Kpi::Impressions, Verdict::Inside(e) | Verdict::Outside { expected: e, .. }) => Some(*e),
        _ => None,
    });
    let context = DayContext {
        today,
        before,
        impressions_band,
        placement_changed,
    };
    checks
        .iter()
        .filter_map(|check| match check.verdict {
            Verdict::Outside { expected, direction } => {
                let (kind, reason) = triage(check.kpi, &context);
                Some(KpiAlert {
                    placement: placement.to_owned(),
                    kpi: check.kpi,
                    day: day_text(check.day),
                    value: check.value,
                    expected,
                    direction,
                    triage: kind,
                    reason,
                    opened_at: opened_at.to_owned(),
                    closed_on: None,
                })
            }
            _ => None,
        })
        .collect()
}

#[cfg(test)]
#[path = "check_tests.rs"]
mod tests;
