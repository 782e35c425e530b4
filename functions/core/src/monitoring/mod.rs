//! Monitoring of placements' daily KPIs (`monitoring` in the placement document): each day's
//! KPIs against a seasonal band learnt from the days before ([`band`], a forecast with
//! prediction intervals), one alert per breach with a triage hint ([`check`]), the alerts
//! kept so each fires once ([`ports::MonitoringLog`]), and the Slack messages ([`messages`]):
//! alerts, daily summaries and a test reaching significance.

#[cfg(feature = "forecast")]
pub mod band;
#[cfg(feature = "forecast")]
pub mod check;
#[cfg(any(test, feature = "fakes"))]
pub mod fakes;
pub mod messages;
pub mod ports;
pub mod series;
pub mod triage;

use serde::{Deserialize, Serialize};
use strum::{Display, EnumIter, EnumString, IntoStaticStr};

use crate::events::aggregates::Counts;
pub use crate::placement::Sensitivity;
pub use triage::Triage;

/// The KPIs monitoring checks, by their names in the metrics route.
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
    Display,
    EnumIter,
    EnumString,
    IntoStaticStr,
)]
#[serde(rename_all = "snake_case")]
#[strum(serialize_all = "snake_case")]
pub enum Kpi {
    Impressions,
    Ctr,
    AddToCartRate,
    Cvr,
    RevenuePerImpression,
}

impl Kpi {
    pub fn as_str(self) -> &'static str {
        self.into()
    }

    /// The KPI's name for people.
    pub fn label(self) -> &'static str {
        match self {
            Kpi::Impressions => "impressions",
            Kpi::Ctr => "CTR",
            Kpi::AddToCartRate => "add-to-cart rate",
            Kpi::Cvr => "CVR",
            Kpi::RevenuePerImpression => "revenue per impression",
        }
    }

    /// The day's value; `NaN` for a rate of a day without impressions (it has none).
    pub fn value(self, counts: &Counts) -> f64 {
        let per_impression = |x: f64| {
            if counts.impressions > 0 {
                x / counts.impressions as f64
            } else {
                f64::NAN
            }
        };
        match self {
            Kpi::Impressions => counts.impressions as f64,
            Kpi::Ctr => per_impression(counts.clicks as f64),
            Kpi::AddToCartRate => per_impression(counts.add_to_cart as f64),
            Kpi::Cvr => per_impression(counts.purchases as f64),
            Kpi::RevenuePerImpression => per_impression(counts.revenue),
        }
    }

    /// The count a rate's events come in (`None` for impressions themselves).
    pub fn events(self, counts: &Counts) -> Option<f64> {
        match self {
            Kpi::Impressions => None,
            Kpi::Ctr => Some(counts.clicks as f64),
            Kpi::AddToCartRate => Some(counts.add_to_cart as f64),
            Kpi::Cvr => Some(counts.purchases as f64),
            Kpi::RevenuePerImpression => Some(counts.purchases as f64),
        }
    }
}

/// The range a value is expected in, and the forecast in its middle.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct Expected {
    pub forecast: f64,
    pub low: f64,
    pub high: f64,
}

impl Expected {
    pub fn contains(&self, value: f64) -> bool {
        self.low <= value && value <= self.high
    }
}

/// Which side of its band a value fell on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Direction {
    Below,
    Above,
}

/// One breach of a placement's KPI: open from the day it left its band until a later check
/// finds it back inside. Kept so its Slack alert goes out once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KpiAlert {
    pub placement: String,
    pub kpi: Kpi,
    /// The day the value left its band (`2026-12-01`, UTC).
    pub day: String,
    pub value: f64,
    pub expected: Expected,
    pub direction: Direction,
    pub triage: Triage,
    /// Why the triage says what it says, for people.
    pub reason: String,
    /// RFC 3339: when the check opened it.
    pub opened_at: String,
    /// The day a check found the KPI back in its band.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub closed_on: Option<String>,
}
