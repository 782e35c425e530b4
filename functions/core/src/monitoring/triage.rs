//! The triage hint of an alert: what most likely moved the KPI, so the person reading it knows
//! where to look first.
//! - data: the app stopped calling the placement or reporting its events (no impressions, fewer
//!   than usual, or none of the KPI's events while impressions still came);
//! - configuration: the placement's document changed that day;
//! - model: a version of a result set was first served that day or the day before;
//! - unclear: none of these was seen.
//!
//! Checked in that order: missing data explains any KPI, a changed placement changes what is
//! served, and only then is a new version the likely cause.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use super::series::DayTotals;
use super::{Expected, Kpi};
use crate::events::aggregates::day_text;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Triage {
    Data,
    Model,
    Configuration,
    Unclear,
}

impl Triage {
    pub fn as_str(self) -> &'static str {
        match self {
            Triage::Data => "data",
            Triage::Model => "model",
            Triage::Configuration => "configuration",
            Triage::Unclear => "unclear",
        }
    }
}

/// Days before the checked one that a "new" version must not have been served on, and that
/// a KPI's events must have arrived on for their absence to be missing data.
const LOOKBACK_DAYS: usize = 7;

/// What else is known of the checked day.
#[derive(Debug, Clone, Copy)]
pub struct DayContext<'a> {
    pub today: &'a DayTotals,
    /// The days before it, oldest first.
    pub before: &'a [DayTotals],
    /// The band of the day's impressions, when one could be learnt.
    pub impressions_band: Option<Expected>,
    /// The placement's revision written that day, if it was changed.
    pub placement_changed: Option<u64>,
}

/// The hint for a breach of `kpi` on the context's day, and why.
pub fn triage(kpi: Kpi, context: &DayContext) -> (Triage, String) {
    if let Some(why) = missing_data(kpi, context) {
        return (Triage::Data, why);
    }
    if let Some(revision) = context.placement_changed {
        return (
            Triage::Configuration,
            format!("the placement was changed that day (revision {revision})"),
        );
    }
    let new_versions = first_served(context);
    if !new_versions.is_empty() {
        let names: Vec<&str> = new_versions.iter().map(String::as_str).collect();
        return (
            Triage::Model,
            format!(
                "version {} first served that day or the day before",
                names.join(", ")
            ),
        );
    }
    (
        Triage::Unclear,
        "no missing data, placement change or new version was seen that day".to_owned(),
    )
}

fn missing_data(kpi: Kpi, context: &DayContext) -> Option<String> {
    let today = &context.today.counts;
    let day = day_text(context.today.day);
    if today.impressions == 0 {
        return Some(format!(
            "no impressions were counted on {day}: the app stopped calling the placement or reporting its events"
        ));
    }
    if let Some(band) = context.impressions_band {
        if (today.impressions as f64) < band.low {
            return Some(format!(
                "impressions were {}, below their usual {:.0}–{:.0}: fewer calls, or events not reported",
                today.impressions, band.low, band.high
            ));
        }
    }
    let events_before: f64 = recent(context.before)
        .iter()
        .filter_map(|d| kpi.events(&d.counts))
        .sum();
    match kpi.events(today) {
        Some(events) if events == 0.0 && events_before > 0.0 => Some(format!(
            "none of the {} events arrived on {day} while {} impressions did: the app may have stopped reporting them",
            kpi.label(),
            today.impressions
        )),
        _ => None,
    }
}

fn recent(before: &[DayTotals]) -> &[DayTotals] {
    &before[before.len().saturating_sub(LOOKBACK_DAYS)..]
}

/// Versions served on the day (or the day before) that the week before had not served.
fn first_served(context: &DayContext) -> BTreeSet<String> {
    let (yesterday, earlier) = match context.before.split_last() {
        Some((last, earlier)) => (Some(last), earlier),
        None => (None, context.before),
    };
    let known: BTreeSet<&String> = recent(earlier).iter().flat_map(|d| &d.versions).collect();
    if known.is_empty() {
        // Nothing served before: the placement is new, not its model.
        return BTreeSet::new();
    }
    context
        .today
        .versions
        .iter()
        .chain(yesterday.iter().flat_map(|d| &d.versions))
        .filter(|v| !known.contains(v))
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;
    use time::Duration;

    use super::*;
    use crate::events::aggregates::Counts;

    fn day(offset: i64, impressions: i64, clicks: i64, version: &str) -> DayTotals {
        DayTotals {
            day: date!(2026 - 11 - 01) + Duration::days(offset),
            counts: Counts {
                impressions,
                clicks,
                ..Counts::default()
            },
            versions: [version.to_owned()].into(),
        }
    }

    fn context<'a>(today: &'a DayTotals, before: &'a [DayTotals]) -> DayContext<'a> {
        DayContext {
            today,
            before,
            impressions_band: Some(Expected {
                forecast: 1000.0,
                low: 900.0,
                high: 1100.0,
            }),
            placement_changed: None,
        }
    }

    #[test]
    fn each_kind_is_told_by_what_changed_that_day() {
        let before: Vec<DayTotals> = (0..10).map(|i| day(i, 1000, 40, "v1")).collect();
        let zero = day(10, 0, 0, "v1");
        assert_eq!(triage(Kpi::Ctr, &context(&zero, &before)).0, Triage::Data);
        let few = day(10, 500, 20, "v1");
        assert_eq!(triage(Kpi::Impressions, &context(&few, &before)).0, Triage::Data);
        let no_clicks = day(10, 1000, 0, "v1");
        let (kind, why) = triage(Kpi::Ctr, &context(&no_clicks, &before));
        assert_eq!(kind, Triage::Data);
        assert!(why.contains("CTR events"), "{why}");

        let low_ctr = day(10, 1000, 20, "v1");
        assert_eq!(triage(Kpi::Ctr, &context(&low_ctr, &before)).0, Triage::Unclear);
        let mut changed = context(&low_ctr, &before);
        changed.placement_changed = Some(3);
        let (kind, why) = triage(Kpi::Ctr, &changed);
        assert_eq!(
            (kind, why.as_str()),
            (
                Triage::Configuration,
                "the placement was changed that day (revision 3)"
            )
        );

        let new_model = day(10, 1000, 20, "v2");
        let (kind, why) = triage(Kpi::Ctr, &context(&new_model, &before));
        assert_eq!(kind, Triage::Model);
        assert!(why.contains("v2"), "{why}");
        // Published late the day before: still the model.
        let mut before_v2 = before.clone();
        before_v2.push(day(10, 1000, 40, "v2"));
        let next_day = day(11, 1000, 20, "v2");
        assert_eq!(triage(Kpi::Ctr, &context(&next_day, &before_v2)).0, Triage::Model);
    }
}
