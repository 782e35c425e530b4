//! What the API counts of a placement's events, for its metrics (`GET /placements/{p}/metrics`)
//! and its monitoring: per (placement, day, arm, version), one [`Counts`] of each event type.
//!
//! Stored in the events table (see `recoflow_aws::DynamoAggregates`) as sharded counters: every
//! aggregate key is [`AGGREGATE_SHARDS`] items, each request adds its events' counts (summed per
//! key first: one write per key and request) to one shard chosen at random, and a reader sums
//! the shards. So no item takes more than a share of a placement's writes, however busy it is.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use strum::{AsRefStr, EnumIter, EnumString, IntoStaticStr};
use time::Date;

/// Items per aggregate key. DynamoDB takes about 1,000 writes a second on one item; with one
/// write per key and request, one placement's arm and day can take 16,000 requests a second.
pub const AGGREGATE_SHARDS: u32 = 16;

/// How long aggregates are kept (DynamoDB TTL from the end of their day): a year of history
/// for the seasonal bands, and a few weeks more.
pub const AGGREGATE_RETENTION_DAYS: i64 = 400;

/// What an event says happened to a recommended list or one of its items.
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
    EnumIter,
    EnumString,
    IntoStaticStr,
    AsRefStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum EventType {
    /// The list was shown.
    Impression,
    Click,
    AddToCart,
    /// A purchase; its `value` is revenue.
    Purchase,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        self.into()
    }
}

/// The day a count belongs to (UTC, of the event's timestamp) as its key writes it:
/// `2026-12-01`.
pub fn day_text(day: Date) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    day.format(&format).unwrap_or_default()
}

/// `2026-12-01` → the date; `None` for anything else.
pub fn parse_day(text: &str) -> Option<Date> {
    let format = time::macros::format_description!("[year]-[month]-[day]");
    Date::parse(text, &format).ok()
}

/// Whose counts: a placement's arm, serving one version of its result set, on one day.
/// For an interleaving test each arm has its own key (and version).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AggregateKey {
    pub placement: String,
    pub day: Date,
    pub arm: String,
    pub version: String,
}

/// Sums of one aggregate key's events (or, in a request's deltas, what to add to them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Counts {
    /// Lists shown (an interleaved list counts for both of its arms).
    #[serde(default)]
    pub impressions: i64,
    /// Clicks (interleaving: on items of this arm's team).
    #[serde(default)]
    pub clicks: i64,
    #[serde(default)]
    pub add_to_cart: i64,
    #[serde(default)]
    pub purchases: i64,
    /// Sum of purchases' `value`.
    #[serde(default)]
    pub revenue: f64,
    /// Sum of the squares of purchases' `value` (the variance of revenue per impression).
    #[serde(default)]
    pub revenue_sq: f64,
    /// Interleaving: interleaved lists whose clicks credit this arm's team more than the other's
    /// (team-draft credit). A delta may be negative: a later click can turn a win into a tie.
    #[serde(default)]
    pub wins: i64,
}

impl Counts {
    /// The counts of one event of this type.
    pub fn of(event_type: EventType, value: Option<f64>) -> Self {
        let mut counts = Self::default();
        match event_type {
            EventType::Impression => counts.impressions = 1,
            EventType::Click => counts.clicks = 1,
            EventType::AddToCart => counts.add_to_cart = 1,
            EventType::Purchase => {
                let value = value.unwrap_or(0.0);
                counts.purchases = 1;
                counts.revenue = value;
                counts.revenue_sq = value * value;
            }
        }
        counts
    }

    pub fn add(&mut self, other: &Counts) {
        self.impressions += other.impressions;
        self.clicks += other.clicks;
        self.add_to_cart += other.add_to_cart;
        self.purchases += other.purchases;
        self.revenue += other.revenue;
        self.revenue_sq += other.revenue_sq;
        self.wins += other.wins;
    }

    pub fn is_zero(&self) -> bool {
        *self == Self::default()
    }

    /// The counts by their names as stored (`impressions`, `clicks`, …), for an adapter's
    /// `ADD` expression: the numbers only, no name spelled twice.
    pub fn fields(&self) -> [(&'static str, f64); 7] {
        [
            ("impressions", self.impressions as f64),
            ("clicks", self.clicks as f64),
            ("add_to_cart", self.add_to_cart as f64),
            ("purchases", self.purchases as f64),
            ("revenue", self.revenue),
            ("revenue_sq", self.revenue_sq),
            ("wins", self.wins as f64),
        ]
    }
}

/// Where aggregates are in the events table (partition `pk`, sort `sk`): shard `s` of a key
/// is `pk = agg#<placement>#<s, two digits>`, `sk = <day>#<arm>#<version>`, so one query per
/// shard reads a range of days (`sk BETWEEN <from># AND <to>#~`; arm names and versions hold
/// only letters, digits and hyphens).
pub mod keys {
    use time::Date;

    use super::{day_text, AGGREGATE_SHARDS};

    pub fn partition(placement: &str, shard: u32) -> String {
        format!("agg#{placement}#{shard:02}")
    }

    pub fn sort(day: Date, arm: &str, version: &str) -> String {
        format!("{}#{arm}#{version}", day_text(day))
    }

    /// The sort keys of days `from..=to`, inclusive bounds.
    pub fn sort_range(from: Date, to: Date) -> (String, String) {
        (format!("{}#", day_text(from)), format!("{}#~", day_text(to)))
    }

    /// The shard a write goes to: any, at random, so writes spread evenly.
    pub fn random_shard() -> u32 {
        fastrand::u32(0..AGGREGATE_SHARDS)
    }
}

/// One aggregate key's counts, as a reader gets them (shards summed).
#[derive(Debug, Clone, PartialEq)]
pub struct AggregateRow {
    pub key: AggregateKey,
    pub counts: Counts,
}

/// A request's counts summed per key before they are written (one write per key).
#[derive(Debug, Default)]
pub struct Deltas(BTreeMap<AggregateKey, Counts>);

impl Deltas {
    pub fn add(&mut self, key: AggregateKey, counts: Counts) {
        self.0.entry(key).or_default().add(&counts);
    }

    /// The keys with something to add, in key order.
    pub fn into_rows(self) -> Vec<AggregateRow> {
        self.0
            .into_iter()
            .filter(|(_, counts)| !counts.is_zero())
            .map(|(key, counts)| AggregateRow { key, counts })
            .collect()
    }
}

/// Sums rows per key (a reader's shards, or several reads).
pub fn sum_rows(rows: impl IntoIterator<Item = AggregateRow>) -> Vec<AggregateRow> {
    let mut deltas = Deltas::default();
    for row in rows {
        deltas.0.entry(row.key).or_default().add(&row.counts);
    }
    deltas
        .0
        .into_iter()
        .map(|(key, counts)| AggregateRow { key, counts })
        .collect()
}

#[cfg(test)]
mod tests {
    use time::macros::date;

    use super::*;

    fn key(arm: &str) -> AggregateKey {
        AggregateKey {
            placement: "home-top".into(),
            day: date!(2026 - 12 - 01),
            arm: arm.into(),
            version: "v1".into(),
        }
    }

    #[test]
    fn a_request_s_events_are_one_write_per_key() {
        let mut deltas = Deltas::default();
        for (arm, event_type, value) in [
            ("a", EventType::Impression, None),
            ("a", EventType::Impression, None),
            ("a", EventType::Purchase, Some(3.0)),
            ("b", EventType::Click, None),
            ("a", EventType::Purchase, Some(4.0)),
        ] {
            deltas.add(key(arm), Counts::of(event_type, value));
        }
        let rows = deltas.into_rows();
        assert_eq!(rows.len(), 2);
        let a = rows[0].counts;
        assert_eq!(
            (a.impressions, a.purchases, a.revenue, a.revenue_sq),
            (2, 2, 7.0, 25.0)
        );
        assert_eq!(rows[1].counts.clicks, 1);
    }

    #[test]
    fn shards_sum_to_the_key_s_counts_and_days_read_back() {
        let shard = |clicks| AggregateRow {
            key: key("a"),
            counts: Counts {
                clicks,
                ..Counts::default()
            },
        };
        let summed = sum_rows([shard(2), shard(3), shard(-1)]);
        assert_eq!(summed.len(), 1);
        assert_eq!(summed[0].counts.clicks, 4);
        assert_eq!(day_text(date!(2026 - 01 - 09)), "2026-01-09");
        assert_eq!(parse_day("2026-01-09"), Some(date!(2026 - 01 - 09)));
        assert_eq!(parse_day("2026-1-9"), None);
        assert_eq!("add_to_cart".parse::<EventType>().unwrap(), EventType::AddToCart);
    }
}
