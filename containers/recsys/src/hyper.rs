//! Training hyperparameters. SageMaker passes every value as a JSON string
//! (`{"max_neighbours": "20"}`); plain JSON numbers are accepted too for hand-written files.

use crate::error::{Error, Result};
use serde::{Deserialize, Serialize};
use std::path::Path;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Hyperparameters {
    /// Neighbours kept per item (top-K by similarity).
    pub max_neighbours: usize,
    /// Minimum number of users two items must share to be neighbours (filters noise).
    pub min_count: u32,
    /// Length of the global and of each segment's popular-items list.
    pub num_popular: usize,
    /// Most recent distinct items per user used for co-occurrence; bounds the quadratic pair
    /// count of heavy users (bots, crawlers). Seen-item exclusion still uses the full history.
    pub max_items_per_user: usize,
    /// Weight of popularity added to co-occurrence scores for users with history.
    pub popularity_weight: f64,
    /// User attribute columns forming a segment; `AGE` is bucketed with `age_bands`.
    pub segment_columns: Vec<String>,
    /// Lower bounds of age bands, e.g. 20,30 gives `<20`, `20-29`, `30+`.
    pub age_bands: Vec<u32>,
    /// Pseudo-users pulling a segment's popularity towards the global one, so a segment of
    /// three users does not get a list made of their three histories.
    pub segment_smoothing: f64,
    /// Only these EVENT_TYPE values count; empty means all.
    pub event_types: Vec<String>,
    /// Whether `segment_columns` was given (then every column must exist in the users data).
    #[serde(skip)]
    pub segment_columns_explicit: bool,
}

impl Default for Hyperparameters {
    fn default() -> Self {
        Hyperparameters {
            max_neighbours: 50,
            min_count: 2,
            num_popular: 100,
            max_items_per_user: 500,
            popularity_weight: 0.1,
            segment_columns: vec!["GENDER".into(), "AGE".into(), "REGION".into()],
            age_bands: vec![20, 30, 40, 50, 60],
            segment_smoothing: 10.0,
            event_types: Vec::new(),
            segment_columns_explicit: false,
        }
    }
}

pub const NAMES: &[&str] = &[
    "max_neighbours",
    "min_count",
    "num_popular",
    "max_items_per_user",
    "popularity_weight",
    "segment_columns",
    "age_bands",
    "segment_smoothing",
    "event_types",
];

impl Hyperparameters {
    /// Reads `hyperparameters.json`; a missing file means all defaults (local runs).
    pub fn load(path: &Path) -> Result<Self> {
        match std::fs::read_to_string(path) {
            Ok(text) => Self::parse(&text).map_err(|e| Error::Invalid(format!("{}: {e}", path.display()))),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Self::default()),
            Err(e) => Err(Error::io("cannot read hyperparameters", path)(e)),
        }
    }

    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
        let object = value
            .as_object()
            .ok_or("expected a JSON object of hyperparameters")?;
        let mut hp = Hyperparameters::default();
        for (name, value) in object {
            let text = match value {
                serde_json::Value::String(s) => s.trim().to_string(),
                serde_json::Value::Number(n) => n.to_string(),
                other => return Err(format!("hyperparameter {name}: expected a string, got {other}")),
            };
            let bad = |what: &str| format!("hyperparameter {name}: expected {what}, got {text:?}");
            let positive = || {
                text.parse::<usize>()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| bad("a positive integer"))
            };
            let list = || -> Vec<String> {
                text.split(',')
                    .map(|s| s.trim().to_string())
                    .filter(|s| !s.is_empty())
                    .collect()
            };
            match name.as_str() {
                "max_neighbours" => hp.max_neighbours = positive()?,
                "min_count" => hp.min_count = positive()? as u32,
                "num_popular" => hp.num_popular = positive()?,
                "max_items_per_user" => hp.max_items_per_user = positive()?,
                "popularity_weight" => {
                    hp.popularity_weight = text
                        .parse::<f64>()
                        .ok()
                        .filter(|w| (0.0..=1.0).contains(w))
                        .ok_or_else(|| bad("a number between 0 and 1"))?
                }
                "segment_smoothing" => {
                    hp.segment_smoothing = text
                        .parse::<f64>()
                        .ok()
                        .filter(|w| w.is_finite() && *w >= 0.0)
                        .ok_or_else(|| bad("a non-negative number"))?
                }
                "segment_columns" => {
                    hp.segment_columns = list().into_iter().map(|c| c.to_ascii_uppercase()).collect();
                    hp.segment_columns_explicit = true;
                }
                "age_bands" => {
                    let bands = list()
                        .iter()
                        .map(|b| b.parse::<u32>())
                        .collect::<std::result::Result<Vec<_>, _>>()
                        .map_err(|_| bad("comma-separated ages"))?;
                    if bands.windows(2).any(|w| w[0] >= w[1]) {
                        return Err(bad("strictly increasing ages"));
                    }
                    hp.age_bands = bands;
                }
                "event_types" => hp.event_types = list(),
                // SageMaker and its SDKs add their own entries (sagemaker_program, ...).
                n if n.starts_with("sagemaker_") || n.starts_with("_") => {}
                _ => {
                    return Err(format!(
                        "unknown hyperparameter {name:?}; known: {}",
                        NAMES.join(", ")
                    ))
                }
            }
        }
        Ok(hp)
    }

    /// The segment label of an age: `<20`, `20-29`, ..., `60+`; `unknown` when blank.
    pub fn age_band(&self, age: u32) -> String {
        let bands = &self.age_bands;
        match bands.iter().rposition(|&b| age >= b) {
            None => format!("<{}", bands.first().copied().unwrap_or(0)),
            Some(i) if i + 1 == bands.len() => format!("{}+", bands[i]),
            Some(i) => format!("{}-{}", bands[i], bands[i + 1] - 1),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sagemaker_strings_and_numbers() {
        let hp = Hyperparameters::parse(
            r#"{"max_neighbours":"7","min_count":1,"num_popular":"3","segment_columns":"gender, region",
                "sagemaker_program":"x","age_bands":"18,30","event_types":"purchase"}"#,
        )
        .unwrap();
        assert_eq!(hp.max_neighbours, 7);
        assert_eq!(hp.min_count, 1);
        assert_eq!(hp.num_popular, 3);
        assert_eq!(hp.segment_columns, ["GENDER", "REGION"]);
        assert!(hp.segment_columns_explicit);
        assert_eq!(hp.event_types, ["purchase"]);
        assert_eq!(hp.age_band(17), "<18");
        assert_eq!(hp.age_band(18), "18-29");
        assert_eq!(hp.age_band(30), "30+");
    }

    #[test]
    fn bad_values_are_named() {
        let e = Hyperparameters::parse(r#"{"max_neighbours":"ten"}"#).unwrap_err();
        assert_eq!(
            e,
            "hyperparameter max_neighbours: expected a positive integer, got \"ten\""
        );
        let e = Hyperparameters::parse(r#"{"max_neighbors":"10"}"#).unwrap_err();
        assert!(e.starts_with("unknown hyperparameter \"max_neighbors\""), "{e}");
    }

    #[test]
    fn missing_file_means_defaults() {
        let hp = Hyperparameters::load(Path::new("/nonexistent/hyperparameters.json")).unwrap();
        assert_eq!(hp, Hyperparameters::default());
    }
}
