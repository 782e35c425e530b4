//! A placement's daily totals over a range of days: its arms' counts summed, and the versions
//! served each day (a version first served on a day is a new model there).

use std::collections::BTreeSet;

use time::Date;

use crate::events::aggregates::{AggregateRow, Counts};
use crate::placement::{ExperimentKind, Placement};

/// One day of a placement.
#[derive(Debug, Clone, PartialEq)]
pub struct DayTotals {
    pub day: Date,
    pub counts: Counts,
    /// The versions its events were served from.
    pub versions: BTreeSet<String>,
}

/// Every day of `from..=to`.
pub fn days(from: Date, to: Date) -> Vec<Date> {
    std::iter::successors(Some(from), |d| d.next_day().filter(|d| *d <= to)).collect()
}

/// The arms whose impressions are left out of the totals: an interleaved list counts one
/// impression for each of the test's two arms, so only the first arm's are the placement's.
pub fn arms_counted_twice(placement: &Placement) -> Vec<String> {
    match &placement.experiment {
        Some(e) if e.kind == ExperimentKind::Interleaving => {
            e.arms.iter().skip(1).map(|a| a.name.clone()).collect()
        }
        _ => Vec::new(),
    }
}

/// The placement's totals on each day of `from..=to` (days without events have zero counts).
pub fn daily_totals(rows: &[AggregateRow], from: Date, to: Date, counted_twice: &[String]) -> Vec<DayTotals> {
    days(from, to)
        .into_iter()
        .map(|day| {
            let mut totals = DayTotals {
                day,
                counts: Counts::default(),
                versions: BTreeSet::new(),
            };
            for row in rows.iter().filter(|r| r.key.day == day) {
                let mut counts = row.counts;
                if counted_twice.contains(&row.key.arm) {
                    counts.impressions = 0;
                }
                totals.counts.add(&counts);
                totals.versions.insert(row.key.version.clone());
            }
            totals
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;
    use crate::events::aggregates::AggregateKey;
    use crate::placement::validation::validate_placement;

    fn row(arm: &str, day: Date, impressions: i64, clicks: i64) -> AggregateRow {
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
                ..Counts::default()
            },
        }
    }

    #[test]
    fn arms_are_summed_and_interleaved_impressions_counted_once() {
        let (d1, d3) = (date!(2026 - 12 - 01), date!(2026 - 12 - 03));
        let rows = [row("a", d1, 100, 4), row("b", d1, 100, 6), row("a", d3, 10, 1)];
        let totals = daily_totals(&rows, d1, d3, &[]);
        assert_eq!(totals.len(), 3);
        assert_eq!((totals[0].counts.impressions, totals[0].counts.clicks), (200, 10));
        assert_eq!(totals[0].versions.len(), 2);
        assert!(totals[1].counts.is_zero() && totals[1].versions.is_empty());
        let interleaving = validate_placement(
            br#"{"schema_version": 1, "placement": "home-top",
                 "experiment": {"type": "interleaving", "arms": [
                   {"name": "a", "result_set": "rs-a"}, {"name": "b", "result_set": "rs-b"}]}}"#,
        )
        .unwrap();
        let twice = arms_counted_twice(&interleaving);
        assert_eq!(twice, ["b"]);
        let totals = daily_totals(&rows, d1, d1, &twice);
        assert_eq!((totals[0].counts.impressions, totals[0].counts.clicks), (100, 10));
    }
}
