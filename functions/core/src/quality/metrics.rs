//! A version's metrics. Deliver measures each score file as it writes it (a [`MetricsPartial`],
//! kept beside the job's outputs) and merges the partials once every file is written, so the
//! measure is the same however the work was split or resumed.
//!
//! Definitions (the README repeats them):
//! - `users_personalized`: users with a personal list in the version.
//! - `catalog_coverage`: distinct items in personal lists / items in the catalogue (the items
//!   file, else the items seen in the interactions).
//! - `top1pct_share`: share of all personal-list slots taken by the most frequent 1 % of the
//!   catalogue's items (at least one item).
//! - `mean_list_length`: personal list length after banned items are removed, averaged.
//! - `short_lists_share`: share of personal lists shorter than the form's `num_results` after
//!   banned items are removed.
//! - `segments_published`: segment fallback lists written.
//! - `overlap_at_k`: mean Jaccard similarity of a user's top `num_results` items in this version
//!   and in the version current when the job delivered, over users in both; absent for a first
//!   version.
//! - `banned_served`: banned items found in any list written (personal, segment, global): must be 0.
//! - `score_p50`, `score_p99`: percentiles of the scores in personal lists (a DDSketch, within 1 %
//!   of the exact value).
//!
//! Items are counted by a 64-bit hash of their id (a catalogue of millions fits in memory; two
//! ids sharing a hash would count as one).

use std::collections::{HashMap, HashSet};
use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use serde::{Deserialize, Serialize};
use sketches_ddsketch::{Config, DDSketch};

/// The metrics a gate rule may name.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    strum::EnumIter,
    strum::EnumString,
    strum::IntoStaticStr,
    strum::Display,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Metric {
    UsersPersonalized,
    CatalogCoverage,
    #[serde(rename = "top1pct_share")]
    #[strum(serialize = "top1pct_share")]
    Top1pctShare,
    MeanListLength,
    ShortListsShare,
    SegmentsPublished,
    OverlapAtK,
    BannedServed,
    ScoreP50,
    ScoreP99,
}

impl Metric {
    pub fn all() -> impl Iterator<Item = Metric> {
        <Self as strum::IntoEnumIterator>::iter()
    }

    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// A version's metrics, as stored with it and shown by `GET /result-sets/{rs}`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct VersionMetrics {
    pub users_personalized: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub catalog_coverage: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top1pct_share: Option<f64>,
    pub mean_list_length: f64,
    pub short_lists_share: f64,
    pub segments_published: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub overlap_at_k: Option<f64>,
    pub banned_served: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_p50: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub score_p99: Option<f64>,
}

impl VersionMetrics {
    /// A metric's value; `None` when the version has none (a first version's overlap).
    pub fn get(&self, metric: Metric) -> Option<f64> {
        match metric {
            Metric::UsersPersonalized => Some(self.users_personalized as f64),
            Metric::CatalogCoverage => self.catalog_coverage,
            Metric::Top1pctShare => self.top1pct_share,
            Metric::MeanListLength => Some(self.mean_list_length),
            Metric::ShortListsShare => Some(self.short_lists_share),
            Metric::SegmentsPublished => Some(self.segments_published as f64),
            Metric::OverlapAtK => self.overlap_at_k,
            Metric::BannedServed => Some(self.banned_served as f64),
            Metric::ScoreP50 => self.score_p50,
            Metric::ScoreP99 => self.score_p99,
        }
    }
}

/// Relative accuracy of the score percentiles.
const SKETCH_ACCURACY: f64 = 0.01;

fn sketch() -> DDSketch {
    DDSketch::new(Config::new(SKETCH_ACCURACY, 2048, 1.0e-9))
}

fn item_hash(item: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(item)
}

/// What one score file (or any share of a version's personal lists) contributes.
#[derive(Clone, Serialize, Deserialize)]
pub struct MetricsPartial {
    pub lists: u64,
    pub slots: u64,
    pub short_lists: u64,
    pub banned_served: u64,
    /// Personal-list slots per item (by item hash).
    pub item_slots: HashMap<u64, u64>,
    pub overlap_sum: f64,
    pub overlap_users: u64,
    #[serde(with = "stored_sketch")]
    pub scores: DDSketch,
}

/// An empty sketch's bounds are infinite, which JSON cannot hold: it is stored as `null`.
mod stored_sketch {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};
    use sketches_ddsketch::DDSketch;

    pub fn serialize<S: Serializer>(sketch: &DDSketch, serializer: S) -> Result<S::Ok, S::Error> {
        (sketch.count() > 0).then_some(sketch).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<DDSketch, D::Error> {
        Ok(Option::<DDSketch>::deserialize(deserializer)?.unwrap_or_else(super::sketch))
    }
}

impl std::fmt::Debug for MetricsPartial {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MetricsPartial")
            .field("lists", &self.lists)
            .field("slots", &self.slots)
            .field("items", &self.item_slots.len())
            .field("scores", &self.scores.count())
            .finish_non_exhaustive()
    }
}

impl Default for MetricsPartial {
    fn default() -> Self {
        Self {
            lists: 0,
            slots: 0,
            short_lists: 0,
            banned_served: 0,
            item_slots: HashMap::new(),
            overlap_sum: 0.0,
            overlap_users: 0,
            scores: sketch(),
        }
    }
}

/// Jaccard similarity of two lists' first `k` items.
pub fn jaccard_at(a: &[String], b: &[String], k: usize) -> f64 {
    let a: HashSet<&str> = a.iter().take(k).map(String::as_str).collect();
    let b: HashSet<&str> = b.iter().take(k).map(String::as_str).collect();
    let union = a.union(&b).count();
    if union == 0 {
        return 1.0;
    }
    a.intersection(&b).count() as f64 / union as f64
}

impl MetricsPartial {
    /// One personal list as written (banned items already removed; any left are counted as
    /// served). `wanted` is the form's `num_results`.
    pub fn add_list(&mut self, items: &[String], scores: &[f64], wanted: usize, banned: &HashSet<String>) {
        self.lists += 1;
        self.slots += items.len() as u64;
        if items.len() < wanted {
            self.short_lists += 1;
        }
        for item in items {
            *self.item_slots.entry(item_hash(item)).or_default() += 1;
            if banned.contains(item) {
                self.banned_served += 1;
            }
        }
        for score in scores.iter().filter(|s| s.is_finite()) {
            self.scores.add(*score);
        }
    }

    /// A user in both versions: how much their top `k` changed.
    pub fn add_overlap(&mut self, previous: &[String], current: &[String], k: usize) {
        self.overlap_sum += jaccard_at(previous, current, k);
        self.overlap_users += 1;
    }

    pub fn merge(&mut self, other: &MetricsPartial) {
        self.lists += other.lists;
        self.slots += other.slots;
        self.short_lists += other.short_lists;
        self.banned_served += other.banned_served;
        for (item, slots) in &other.item_slots {
            *self.item_slots.entry(*item).or_default() += slots;
        }
        self.overlap_sum += other.overlap_sum;
        self.overlap_users += other.overlap_users;
        // Same configuration on both sides (this module makes every sketch): cannot fail.
        let _ = self.scores.merge(&other.scores);
    }

    /// The version's metrics: `catalogue_items` is the size of the catalogue (0 if unknown),
    /// `segments` the segment lists written, `fallback_banned` banned items found in them,
    /// `had_previous` whether a version was current (else there is no overlap to speak of).
    pub fn finish(
        &self,
        catalogue_items: u64,
        segments: u64,
        fallback_banned: u64,
        had_previous: bool,
    ) -> VersionMetrics {
        let lists = self.lists.max(1) as f64;
        let share = |part: u64, whole: u64| (whole > 0).then(|| part as f64 / whole as f64);
        let top_items = ((catalogue_items as f64) * 0.01).ceil().max(1.0) as usize;
        let mut counts: Vec<u64> = self.item_slots.values().copied().collect();
        counts.sort_unstable_by(|a, b| b.cmp(a));
        let top_slots: u64 = counts.iter().take(top_items).sum();
        let quantile = |q: f64| self.scores.quantile(q).ok().flatten();
        VersionMetrics {
            users_personalized: self.lists,
            catalog_coverage: share(self.item_slots.len() as u64, catalogue_items).map(|c| c.min(1.0)),
            top1pct_share: share(top_slots, self.slots),
            mean_list_length: self.slots as f64 / lists,
            short_lists_share: self.short_lists as f64 / lists,
            segments_published: segments,
            overlap_at_k: (had_previous && self.overlap_users > 0)
                .then(|| self.overlap_sum / self.overlap_users as f64),
            banned_served: self.banned_served + fallback_banned,
            score_p50: quantile(0.5),
            score_p99: quantile(0.99),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list(items: &[&str]) -> Vec<String> {
        items.iter().map(|i| i.to_string()).collect()
    }

    /// Worked by hand: a catalogue of 200 items; three users with num_results 3:
    ///   u1: a b c  (scores 0.9 0.8 0.7)   previous: a b d  → Jaccard {a,b}/{a,b,c,d} = 0.5
    ///   u2: a b    (0.6 0.5)               previous: a b    → 1.0
    ///   u3: a      (0.4)                   not in the previous version
    /// lists 3, slots 6, short lists 2 (u2, u3): mean length 2, short share 2/3;
    /// distinct items a b c: coverage 3/200; the top 1 % of 200 is 2 items (a: 3, b: 2):
    /// 5 of 6 slots; overlap (0.5 + 1.0) / 2 = 0.75; scores 0.4 … 0.9: p50 is rank ⌊0.5·5⌋ = 2
    /// (0.6), p99 rank ⌊0.99·5⌋ = 4 (0.8).
    #[test]
    fn the_metrics_match_a_hand_computed_example() {
        let banned = HashSet::new();
        let mut first = MetricsPartial::default();
        first.add_list(&list(&["a", "b", "c"]), &[0.9, 0.8, 0.7], 3, &banned);
        first.add_overlap(&list(&["a", "b", "d"]), &list(&["a", "b", "c"]), 3);
        // A second file, merged: the split does not change the result.
        let mut second = MetricsPartial::default();
        second.add_list(&list(&["a", "b"]), &[0.6, 0.5], 3, &banned);
        second.add_overlap(&list(&["a", "b"]), &list(&["a", "b"]), 3);
        second.add_list(&list(&["a"]), &[0.4], 3, &banned);
        first.merge(&second);
        let metrics = first.finish(200, 4, 0, true);
        assert_eq!(metrics.users_personalized, 3);
        assert_eq!(metrics.catalog_coverage, Some(3.0 / 200.0));
        assert_eq!(metrics.top1pct_share, Some(5.0 / 6.0));
        assert_eq!(metrics.mean_list_length, 2.0);
        assert!((metrics.short_lists_share - 2.0 / 3.0).abs() < 1e-12);
        assert_eq!(metrics.segments_published, 4);
        assert_eq!(metrics.overlap_at_k, Some(0.75));
        assert_eq!(metrics.banned_served, 0);
        let p50 = metrics.score_p50.unwrap();
        assert!((p50 - 0.6).abs() <= 0.6 * 0.011, "{p50}");
        let p99 = metrics.score_p99.unwrap();
        assert!((p99 - 0.8).abs() <= 0.8 * 0.011, "{p99}");
    }

    #[test]
    fn a_first_version_has_no_overlap_and_banned_items_are_counted() {
        let banned: HashSet<String> = ["x".to_owned()].into();
        let mut partial = MetricsPartial::default();
        partial.add_list(&list(&["x", "y"]), &[1.0, 0.5], 2, &banned);
        let metrics = partial.finish(0, 0, 2, false);
        assert_eq!(metrics.overlap_at_k, None);
        assert_eq!(metrics.catalog_coverage, None, "no catalogue size known");
        assert_eq!(
            metrics.banned_served, 3,
            "one in a personal list, two in the fallbacks"
        );
    }

    #[test]
    fn partials_survive_a_round_trip_through_json() {
        let mut partial = MetricsPartial::default();
        partial.add_list(&list(&["a", "b"]), &[0.5, -0.25], 5, &HashSet::new());
        let text = serde_json::to_string(&partial).unwrap();
        let back: MetricsPartial = serde_json::from_str(&text).unwrap();
        assert_eq!(back.finish(10, 0, 0, false), partial.finish(10, 0, 0, false));
        // A file without a list (its sketch's bounds infinite) too, and it still merges.
        let empty = MetricsPartial::default();
        let mut back: MetricsPartial = serde_json::from_str(&serde_json::to_string(&empty).unwrap()).unwrap();
        assert_eq!(back.finish(10, 0, 0, false).score_p50, None);
        back.merge(&partial);
        assert_eq!(back.finish(10, 0, 0, false), partial.finish(10, 0, 0, false));
    }

    #[test]
    fn metric_names_are_the_documented_ones() {
        let names: Vec<&str> = Metric::all().map(Metric::as_str).collect();
        assert_eq!(
            names,
            [
                "users_personalized",
                "catalog_coverage",
                "top1pct_share",
                "mean_list_length",
                "short_lists_share",
                "segments_published",
                "overlap_at_k",
                "banned_served",
                "score_p50",
                "score_p99"
            ]
        );
        for metric in Metric::all() {
            assert_eq!(serde_json::to_value(metric).unwrap(), metric.as_str());
        }
    }
}
