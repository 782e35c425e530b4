//! Users' attributes as segments use them: which columns a version's fallback segments are kept
//! for (its [`SegmentDimensions`], from the form's `fallback`), a user's values of them
//! ([`Attributes`]) and the segment keys those make (`COL=value|COL=value`, sorted by column).
//!
//! Values are text compared after Unicode NFC normalisation and trimming ([`normalized`]), so
//! `東京都` typed in a form or a query matches the users file whichever way either was composed.
//! The columns segments had before any other could be named keep their rules: GENDER in upper
//! case, REGION in lower case, AGE a whole number.

use serde::{Deserialize, Serialize};
use unicode_normalization::UnicodeNormalization;

use crate::form::{
    JobForm, DEFAULT_AGE_BANDS, DEFAULT_FALLBACK_ATTRIBUTES, DEFAULT_MIN_SEGMENT_USERS,
    MAX_FALLBACK_DIMENSIONS,
};
use crate::segment::{AGE_COLUMN, GENDER_COLUMN, REGION_COLUMN};

/// A value as segments compare it: NFC-normalised and trimmed.
pub fn normalized(value: &str) -> String {
    let trimmed = value.trim();
    // Most values are ASCII, which NFC leaves as it is.
    if trimmed.is_ascii() {
        trimmed.to_owned()
    } else {
        trimmed.nfc().collect::<String>().trim().to_owned()
    }
}

/// Whether a column's values match in any case (GENDER and REGION, as they always have).
pub fn any_case(column: &str) -> bool {
    column.eq_ignore_ascii_case(GENDER_COLUMN) || column.eq_ignore_ascii_case(REGION_COLUMN)
}

/// A value as a segment key holds it: normalised, GENDER upper-cased and REGION lower-cased.
fn key_value(column: &str, value: &str) -> Option<String> {
    let value = normalized(value);
    if value.is_empty() {
        return None;
    }
    Some(if column == GENDER_COLUMN {
        value.to_ascii_uppercase()
    } else if column == REGION_COLUMN {
        value.to_lowercase()
    } else {
        value
    })
}

/// A number as a banded column holds it; AGE only as a whole number (as before).
pub fn band_number(column: &str, value: &str) -> Option<f64> {
    let value = value.trim();
    if column == AGE_COLUMN {
        return value.parse::<u32>().ok().map(f64::from);
    }
    value.parse::<f64>().ok().filter(|n| n.is_finite())
}

/// The band of `value` among lower bounds `bounds` (increasing): `<20`, `20-29`, …, `60+`; a
/// band one wide is its bound alone.
pub fn band_label(bounds: &[i64], value: f64) -> String {
    let Some(first) = bounds.first() else {
        return value.to_string();
    };
    match bounds.iter().rposition(|lower| value >= *lower as f64) {
        None => format!("<{first}"),
        Some(i) if i + 1 == bounds.len() => format!("{}+", bounds[i]),
        Some(i) if bounds[i + 1] - 1 == bounds[i] => bounds[i].to_string(),
        Some(i) => format!("{}-{}", bounds[i], bounds[i + 1] - 1),
    }
}

/// One column the fallback segments are kept for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dimension {
    /// As the users file's header names it, upper case.
    pub column: String,
    /// A numeric column counted by band: the bands' lower bounds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bands: Option<Vec<i64>>,
}

impl Dimension {
    /// A user's value of this dimension as a segment key holds it: the band of a banded
    /// column, else the normalised text; `None` for a blank (or, banded, not a number).
    pub fn value(&self, raw: &str) -> Option<String> {
        match &self.bands {
            Some(bounds) => band_number(&self.column, raw).map(|n| band_label(bounds, n)),
            None => key_value(&self.column, raw),
        }
    }

    /// The query parameter naming this dimension (`gender`, `prefecture`).
    pub fn parameter(&self) -> String {
        self.column.to_ascii_lowercase()
    }
}

/// Which user attributes a version's segments are keyed by, in the order the API drops them
/// (the last first) when a user's most specific segment has no list, and how many users a
/// segment needs for a list of its own.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentDimensions {
    pub dimensions: Vec<Dimension>,
    pub min_users: u32,
}

impl Default for SegmentDimensions {
    /// The segments every version had before forms could choose: REGION, AGE in
    /// [`DEFAULT_AGE_BANDS`], GENDER; [`DEFAULT_MIN_SEGMENT_USERS`].
    fn default() -> Self {
        Self::new(
            DEFAULT_FALLBACK_ATTRIBUTES.iter().copied(),
            |column| (column == AGE_COLUMN).then(|| DEFAULT_AGE_BANDS.to_vec()),
            DEFAULT_MIN_SEGMENT_USERS,
        )
    }
}

impl SegmentDimensions {
    fn new<'a>(
        columns: impl Iterator<Item = &'a str>,
        bands: impl Fn(&str) -> Option<Vec<i64>>,
        min_users: u32,
    ) -> Self {
        let mut dimensions: Vec<Dimension> = Vec::new();
        for column in columns.map(str::to_ascii_uppercase) {
            if dimensions.len() < MAX_FALLBACK_DIMENSIONS && dimensions.iter().all(|d| d.column != column) {
                let bands = bands(&column);
                dimensions.push(Dimension { column, bands });
            }
        }
        Self {
            dimensions,
            min_users: min_users.max(1),
        }
    }

    /// The form's `fallback`, or the default. AGE is banded in [`DEFAULT_AGE_BANDS`] unless
    /// the form gives its bands.
    pub fn of(form: &JobForm) -> Self {
        let Some(fallback) = &form.fallback else {
            return Self::default();
        };
        let bands = |column: &str| {
            let given = fallback
                .bands
                .iter()
                .find(|(name, _)| name.eq_ignore_ascii_case(column))
                .map(|(_, bounds)| bounds.clone());
            given.or_else(|| (column == AGE_COLUMN).then(|| DEFAULT_AGE_BANDS.to_vec()))
        };
        Self::new(
            fallback.attributes.iter().map(String::as_str),
            bands,
            fallback.min_users,
        )
    }

    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// The dimension a name (a column or a query parameter, any case) names.
    pub fn find(&self, name: &str) -> Option<&Dimension> {
        self.dimensions
            .iter()
            .find(|d| d.column.eq_ignore_ascii_case(name))
    }

    /// A user's attributes from their raw values (`raw(column)`: a users-file cell or a query
    /// parameter); blanks, and banded values that are not numbers, are absent.
    pub fn attributes<'a>(&self, raw: impl Fn(&str) -> Option<&'a str>) -> Attributes {
        Attributes {
            values: self
                .dimensions
                .iter()
                .filter_map(|d| Some((d.column.clone(), d.value(raw(&d.column)?)?)))
                .collect(),
        }
    }

    /// Back from a segment key such as `AGE=20-29|GENDER=F` (parts of other columns are
    /// ignored: a key written under other dimensions means nothing here).
    pub fn from_segment_key(&self, key: &str) -> Attributes {
        let parts: Vec<(&str, String)> = key
            .split('|')
            .filter_map(|part| part.split_once('='))
            .map(|(column, value)| (column, unescape(value)))
            .collect();
        Attributes {
            values: self
                .dimensions
                .iter()
                .filter_map(|d| {
                    let (_, value) = parts.iter().find(|(column, _)| *column == d.column)?;
                    Some((d.column.clone(), value.clone()))
                })
                .collect(),
        }
    }
}

/// A user's values of a version's dimensions, in the dimensions' order.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Attributes {
    /// (column, value as keys hold it), for the dimensions the user has a value of.
    values: Vec<(String, String)>,
}

/// `|` separates a key's parts: a value holding one keeps it escaped.
fn escape(value: &str) -> std::borrow::Cow<'_, str> {
    if value.contains('|') {
        value.replace('|', "%7C").into()
    } else {
        value.into()
    }
}

fn unescape(value: &str) -> String {
    value.replace("%7C", "|")
}

impl Attributes {
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// The value of one column, as keys hold it.
    pub fn get(&self, column: &str) -> Option<&str> {
        self.values
            .iter()
            .find(|(c, _)| c == column)
            .map(|(_, v)| v.as_str())
    }

    /// The segment key of these values, e.g. `AGE=20-29|GENDER=F|REGION=tokyo`; `None` with
    /// no values.
    pub fn segment_key(&self) -> Option<String> {
        Self::key_of(self.values.iter())
    }

    fn key_of<'a>(values: impl Iterator<Item = &'a (String, String)>) -> Option<String> {
        let mut parts: Vec<(&str, &str)> = values.map(|(c, v)| (c.as_str(), v.as_str())).collect();
        parts.sort_unstable();
        let key = parts
            .iter()
            .map(|(column, value)| format!("{column}={}", escape(value)))
            .collect::<Vec<_>>()
            .join("|");
        (!key.is_empty()).then_some(key)
    }

    /// Every segment these values count in, each non-empty combination of them (2^n − 1),
    /// most specific first; among combinations of one size, those keeping the dimensions
    /// listed first come first (so a query with fewer attributes still finds a list).
    pub fn segment_keys(&self) -> Vec<String> {
        let n = self.values.len();
        let mut keys: Vec<(u32, String)> = Vec::with_capacity((1 << n) - 1);
        // Bit n-1-i keeps the i-th dimension: descending masks keep the first ones longest.
        for mask in (1u32..(1 << n)).rev() {
            let kept = self
                .values
                .iter()
                .enumerate()
                .filter(|(i, _)| mask & (1 << (n - 1 - i)) != 0)
                .map(|(_, value)| value);
            if let Some(key) = Self::key_of(kept) {
                keys.push((mask.count_ones(), key));
            }
        }
        keys.sort_by_key(|(size, _)| std::cmp::Reverse(*size));
        keys.into_iter().map(|(_, key)| key).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::form::Fallback;

    fn today() -> SegmentDimensions {
        SegmentDimensions::default()
    }

    fn user<'a>(dimensions: &SegmentDimensions, row: &'a [(&'a str, &'a str)]) -> Attributes {
        dimensions.attributes(|column| row.iter().find(|(c, _)| *c == column).map(|(_, v)| *v))
    }

    #[test]
    fn ages_fall_in_documented_bands() {
        let bands: Vec<String> = [0, 19, 20, 29, 30, 59, 60, 99]
            .into_iter()
            .map(|age| band_label(&DEFAULT_AGE_BANDS, age as f64))
            .collect();
        assert_eq!(
            bands,
            ["<20", "<20", "20-29", "20-29", "30-39", "50-59", "60+", "60+"]
        );
        assert_eq!(band_label(&[1, 2, 5], 1.5), "1");
    }

    #[test]
    fn today_s_keys_and_their_order_are_kept() {
        let a = user(&today(), &[("GENDER", "f"), ("AGE", "27"), ("REGION", "Tokyo")]);
        assert_eq!(a.segment_key().unwrap(), "AGE=20-29|GENDER=F|REGION=tokyo");
        assert_eq!(
            a.segment_keys(),
            [
                "AGE=20-29|GENDER=F|REGION=tokyo",
                "AGE=20-29|REGION=tokyo",
                "GENDER=F|REGION=tokyo",
                "AGE=20-29|GENDER=F",
                "REGION=tokyo",
                "AGE=20-29",
                "GENDER=F",
            ],
            "the order the API has always tried them in"
        );
        assert_eq!(today().from_segment_key(&a.segment_key().unwrap()), a);
        let partial = user(&today(), &[("GENDER", "M"), ("AGE", "old")]);
        assert_eq!(partial.segment_keys(), ["GENDER=M"]);
        assert!(user(&today(), &[("AGE", " "), ("GENDER", "")]).is_empty());
        assert!(
            user(&today(), &[("AGE", "27.5")]).is_empty(),
            "an age is a whole number, as before"
        );
    }

    #[test]
    fn composed_and_decomposed_text_match() {
        // 都 as the compatibility ideograph U+FA26 (legacy encodings), which NFC makes the
        // unified 都; が as か and a combining voiced mark.
        let (composed, variant) = ("東京都", "東京\u{FA26}");
        let (ga_composed, ga_decomposed) = ("が", "か\u{3099}");
        assert_ne!(composed, variant);
        assert_eq!(normalized(ga_decomposed), ga_composed);
        assert_eq!(
            normalized(&format!(" {variant}\u{3000}")),
            composed,
            "trimmed too"
        );
        let dimensions = SegmentDimensions::of(&form_with(Fallback {
            attributes: vec!["prefecture".into()],
            ..Fallback::default()
        }));
        let key = |value: &str| user(&dimensions, &[("PREFECTURE", value)]).segment_key();
        assert_eq!(key("ｶﾞ"), Some("PREFECTURE=ｶﾞ".into()), "NFC, not NFKC");
        assert_eq!(key(&format!("{ga_decomposed} ")), key(ga_composed));
    }

    fn form_with(fallback: Fallback) -> JobForm {
        let mut form = crate::fakes::test_form("container");
        form.fallback = Some(fallback);
        form
    }

    #[test]
    fn any_column_can_be_a_dimension_and_a_numeric_one_banded() {
        let dimensions = SegmentDimensions::of(&form_with(Fallback {
            attributes: vec!["Prefecture".into(), "MEMBER_RANK".into(), "POINTS".into()],
            bands: [("points".to_owned(), vec![100, 500])].into(),
            min_users: 3,
        }));
        assert_eq!(dimensions.min_users, 3);
        assert_eq!(dimensions.find("member_rank").unwrap().parameter(), "member_rank");
        let a = user(
            &dimensions,
            &[
                ("PREFECTURE", "大阪府"),
                ("MEMBER_RANK", "Gold"),
                ("POINTS", "250.5"),
            ],
        );
        assert_eq!(
            a.segment_key().unwrap(),
            "MEMBER_RANK=Gold|POINTS=100-499|PREFECTURE=大阪府"
        );
        let keys = a.segment_keys();
        assert_eq!(keys.len(), 7);
        assert_eq!(
            keys[1], "MEMBER_RANK=Gold|PREFECTURE=大阪府",
            "PREFECTURE is kept longest"
        );
        assert_eq!(keys[4], "PREFECTURE=大阪府");
        assert_eq!(dimensions.from_segment_key(&keys[0]), a);
        assert!(user(&dimensions, &[("POINTS", "lots")]).is_empty());
        let age = SegmentDimensions::of(&form_with(Fallback {
            attributes: vec!["AGE".into()],
            ..Fallback::default()
        }));
        assert_eq!(age.dimensions[0].bands.as_deref(), Some(&DEFAULT_AGE_BANDS[..]));
    }

    #[test]
    fn dimensions_are_capped_and_keys_stay_bounded() {
        let dimensions = SegmentDimensions::new(["A", "B", "C", "D", "E", "a"].into_iter(), |_| None, 5);
        assert_eq!(dimensions.dimensions.len(), MAX_FALLBACK_DIMENSIONS);
        let row = [("A", "1"), ("B", "2"), ("C", "3"), ("D", "4"), ("E", "5")];
        let keys = user(&dimensions, &row).segment_keys();
        assert_eq!(keys.len(), 15);
        let unique: std::collections::HashSet<&String> = keys.iter().collect();
        assert_eq!(unique.len(), 15);
    }

    #[test]
    fn a_value_with_the_separator_survives_its_key() {
        let dimensions = SegmentDimensions::new(["SHOP"].into_iter(), |_| None, 5);
        let a = user(&dimensions, &[("SHOP", "a|b")]);
        assert_eq!(a.segment_key().unwrap(), "SHOP=a%7Cb");
        assert_eq!(dimensions.from_segment_key("SHOP=a%7Cb").get("SHOP"), Some("a|b"));
    }

    #[test]
    fn the_default_is_not_stored() {
        assert!(SegmentDimensions::of(&crate::fakes::test_form("container")).is_default());
        let json = serde_json::to_value(today()).unwrap();
        assert_eq!(
            json["dimensions"][1],
            serde_json::json!({"column": "AGE", "bands": [20, 30, 40, 50, 60]})
        );
    }
}
