//! Publishing a job's results: the keys of the recommendations table, the segments fallback
//! lists are kept for, the Personalize batch-output lines read from S3, and where a delivery
//! stands (so a retried or resumed delivery continues instead of starting over).
//!
//! A result set is published in versions. Every item of a version has the version in its key;
//! only once all of them are written does one conditional write move the result set's pointer
//! (`rs#<result set>`) to the new version. Readers read the pointer first, so they see a whole
//! version, old or new, never a mix.

use serde::{Deserialize, Serialize};

pub use crate::attributes::{Attributes, SegmentDimensions};
use crate::form::Output;
use crate::job::id::{form_digest, JobId};

/// Longest list kept per user, segment or result set (the API serves at most this many).
pub const MAX_LIST_ITEMS: usize = 500;

/// Keys of the recommendations table (partition key `pk`).
pub mod keys {
    /// The result set's pointer to its current version.
    pub fn pointer(result_set: &str) -> String {
        format!("rs#{result_set}")
    }

    /// A user's personalized list in a version.
    pub fn user(result_set: &str, version: &str, user_id: &str) -> String {
        format!("u#{result_set}#{version}#{user_id}")
    }

    /// A user's segment (from the job's users data) in a version.
    pub fn attributes(result_set: &str, version: &str, user_id: &str) -> String {
        format!("a#{result_set}#{version}#{user_id}")
    }

    /// A segment's most popular items in a version.
    pub fn segment(result_set: &str, version: &str, segment: &str) -> String {
        format!("s#{result_set}#{version}#{segment}")
    }

    /// The result set's most popular items in a version.
    pub fn global(result_set: &str, version: &str) -> String {
        format!("g#{result_set}#{version}")
    }

    /// The banned items every result set leaves out (the operator's always-on list).
    pub const ALWAYS_BANNED: &str = "banned";
}

/// One list of the recommendations table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StoredList {
    pub pk: String,
    #[serde(default)]
    pub items: Vec<String>,
    #[serde(default)]
    pub scores: Vec<f64>,
    /// On a user's attributes item: their segment key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<String>,
    /// Unix seconds; the table's TTL attribute (absent on the operator's banned list).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub expires_at: i64,
}

fn is_zero(value: &i64) -> bool {
    *value == 0
}

/// A result set's current version, as its pointer item holds it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pointer {
    pub pk: String,
    pub result_set: String,
    pub version: String,
    pub job_id: JobId,
    pub published_at: String,
    /// The job's `num_results`: the API's default `n`.
    pub num_results: u32,
    /// The form's banned items, left out of every list of this version (`exclude_items`).
    #[serde(default)]
    pub excluded_items: Vec<String>,
    pub users: u64,
    pub segments: u64,
    /// When this version's items expire: serving stops then. Stored as `version_expires_at`,
    /// never under the table's TTL attribute (`expires_at`): the pointer itself must outlive
    /// the sweep so readers learn the version expired (pointers written before carry
    /// `expires_at`).
    #[serde(rename = "version_expires_at", alias = "expires_at")]
    pub expires_at: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// The attributes this version's segments are keyed by (the form's `fallback`): the query
    /// parameters the API takes. Absent: the default, which versions before the choice had.
    #[serde(default, skip_serializing_if = "SegmentDimensions::is_default")]
    pub segment_dimensions: SegmentDimensions,
    /// What the version holds (the form's `output`), so each route serves only its own kind.
    /// Absent: users' lists, which versions before the choice held.
    #[serde(default, skip_serializing_if = "is_user_items")]
    pub output: Output,
}

fn is_user_items(output: &Output) -> bool {
    *output == Output::UserItems
}

/// A version id: sortable by the job's submission time (to the second; ties by job id),
/// unique per job. A job submitted earlier, on older data, that finishes later never replaces
/// the version of a job submitted after it.
pub fn version_id(submitted_unix: i64, job_id: &JobId) -> String {
    let time =
        time::OffsetDateTime::from_unix_timestamp(submitted_unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    let stamp = time
        .format(&format)
        .unwrap_or_else(|_| submitted_unix.to_string());
    let digest = form_digest(job_id.as_str().as_bytes());
    format!("{stamp}-{}", &digest[..8])
}

/// Where a delivery stands, kept on the job record: the version being written, what its
/// fallbacks counted, and once every score file is delivered (each by its own worker, with its
/// own progress beside the job's outputs) their counts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    pub version: String,
    pub started_at: String,
    /// Unix seconds the version's items expire.
    pub expires_at: i64,
    /// Where the score files are: a key prefix in the results bucket (every `*.out` under it,
    /// in sub-folders too, is one score file).
    #[serde(default)]
    pub prefix: String,
    /// Score files found when the delivery began (as many workers share the write budget).
    #[serde(default)]
    pub score_files_listed: u64,
    /// Score files delivered (set when the workers' results are merged).
    #[serde(default)]
    pub files_read: u64,
    /// Users whose list is written.
    #[serde(default)]
    pub users: u64,
    /// Lines that carried an error or did not parse.
    #[serde(default)]
    pub skipped: u64,
    #[serde(default)]
    pub segments: u64,
    #[serde(default)]
    pub fallbacks_written: bool,
    /// The shares a users' lists version's fallbacks are counted in, one worker each (0 for
    /// outputs whose fallbacks are written whole).
    #[serde(default)]
    pub fallback_shares: u32,
    #[serde(default)]
    pub published: bool,
    /// The version current when the delivery began: users' lists are compared with theirs
    /// (`overlap_at_k`). `None` for a result set's first version.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_version: Option<String>,
    /// Items in the catalogue (the items file's, else those seen in the interactions),
    /// counted with the fallbacks.
    #[serde(default)]
    pub catalogue_items: u64,
    /// Banned items found in the segment and global lists written: 0 unless their removal
    /// broke.
    #[serde(default)]
    pub fallback_banned: u64,
}

/// One line of a Personalize batch-inference output (what both backends write): a user's
/// items, or, for similar items, an item's.
#[derive(Debug, Clone, PartialEq)]
pub enum ScoreLine {
    Scored {
        /// The input's user (or item) id.
        id: String,
        items: Vec<String>,
        scores: Vec<f64>,
    },
    /// A line with `"error"` set, or that does not parse: counted, not fatal.
    Skipped(String),
}

#[derive(Deserialize)]
struct RawLine {
    input: Option<serde_json::Value>,
    output: Option<RawOutput>,
    error: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawOutput {
    #[serde(rename = "recommendedItems", default)]
    recommended_items: Vec<String>,
    #[serde(default)]
    scores: Vec<f64>,
}

/// Longest user id kept (the API refuses longer ones); item ids likewise.
pub const MAX_USER_ID_CHARS: usize = 256;

/// The input field that names whom a batch line is for.
pub const USER_INPUT: &str = "userId";
pub const ITEM_INPUT: &str = "itemId";

/// A batch line whose input names its subject by `id_field` ([`USER_INPUT`], [`ITEM_INPUT`]).
pub fn parse_score_line(line: &[u8], id_field: &str) -> ScoreLine {
    let raw: RawLine = match serde_json::from_slice(line) {
        Ok(raw) => raw,
        Err(e) => return ScoreLine::Skipped(format!("not a batch-inference line: {e}")),
    };
    if let Some(error) = raw.error.filter(|e| !e.is_null()) {
        return ScoreLine::Skipped(format!("the line reports an error: {error}"));
    }
    let id = raw
        .input
        .as_ref()
        .and_then(|i| i.get(id_field))
        .and_then(|u| u.as_str())
        .map(str::to_owned);
    let (Some(id), Some(output)) = (id, raw.output) else {
        return ScoreLine::Skipped(format!("the line has no input.{id_field} or no output"));
    };
    if id.is_empty() || id.chars().count() > MAX_USER_ID_CHARS || id.chars().any(char::is_control) {
        return ScoreLine::Skipped(format!(
            "the {id_field} is empty, too long or has control characters"
        ));
    }
    let mut scores = output.scores;
    scores.resize(output.recommended_items.len(), 0.0);
    ScoreLine::Scored {
        id,
        items: output.recommended_items,
        scores,
    }
}

/// Removes banned items from a list (and their scores), keeping the order.
pub fn without_banned(
    items: &mut Vec<String>,
    scores: &mut Vec<f64>,
    banned: &std::collections::HashSet<String>,
) {
    if banned.is_empty() {
        return;
    }
    let keep: Vec<bool> = items.iter().map(|i| !banned.contains(i)).collect();
    let mut flags = keep.iter();
    items.retain(|_| *flags.next().unwrap_or(&true));
    let mut flags = keep.iter();
    scores.retain(|_| *flags.next().unwrap_or(&true));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn batch_lines_parse_and_bad_ones_are_skipped() {
        let good = br#"{"input":{"userId":"u1"},"output":{"recommendedItems":["i3","i9"],"scores":[0.5,0.4]},"error":null}"#;
        assert_eq!(
            parse_score_line(good, USER_INPUT),
            ScoreLine::Scored {
                id: "u1".into(),
                items: vec!["i3".into(), "i9".into()],
                scores: vec![0.5, 0.4]
            }
        );
        // Similar items' lines name an item; a user's line is none of those.
        let item =
            br#"{"input":{"itemId":"i1"},"output":{"recommendedItems":["i2"],"scores":[0.9]},"error":null}"#;
        assert!(matches!(parse_score_line(item, ITEM_INPUT), ScoreLine::Scored { id, .. } if id == "i1"));
        assert!(matches!(
            parse_score_line(good, ITEM_INPUT),
            ScoreLine::Skipped(_)
        ));
        for bad in [
            &br#"{"input":"x","output":null,"error":"invalid JSON"}"#[..],
            b"not json",
            br#"{"input":{"userId":"u1"}}"#,
            br#"{"input":{"userId":""},"output":{"recommendedItems":[]}}"#,
        ] {
            assert!(
                matches!(parse_score_line(bad, USER_INPUT), ScoreLine::Skipped(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
    }

    #[test]
    fn banned_items_leave_with_their_scores() {
        let mut items = vec!["a".to_owned(), "b".into(), "c".into()];
        let mut scores = vec![3.0, 2.0, 1.0];
        without_banned(&mut items, &mut scores, &["b".to_owned()].into());
        assert_eq!(items, ["a", "c"]);
        assert_eq!(scores, [3.0, 1.0]);
    }

    #[test]
    fn the_pointer_does_not_carry_the_table_s_ttl_attribute() {
        let pointer = Pointer {
            pk: keys::pointer("spring"),
            result_set: "spring".into(),
            version: "20261123T000000Z-aaaaaaaa".into(),
            job_id: JobId::parse("spring-1").unwrap(),
            published_at: "2026-11-23T00:00:00.000Z".into(),
            num_results: 5,
            excluded_items: Vec::new(),
            users: 1,
            segments: 0,
            expires_at: 1_800_000_000,
            previous_version: None,
            segment_dimensions: SegmentDimensions::default(),
            output: Output::UserItems,
        };
        let stored = serde_json::to_value(&pointer).unwrap();
        assert!(
            stored.get("output").is_none(),
            "a version of users' lists reads as before"
        );
        assert!(stored.get("expires_at").is_none(), "{stored}");
        assert!(
            stored.get("segment_dimensions").is_none(),
            "the default dimensions are not stored: pointers read as before"
        );
        assert_eq!(stored["version_expires_at"], 1_800_000_000);
        assert_eq!(serde_json::from_value::<Pointer>(stored).unwrap(), pointer);
        // A pointer written before still reads.
        let mut old = serde_json::to_value(&pointer).unwrap();
        let expiry = old.as_object_mut().unwrap().remove("version_expires_at").unwrap();
        old["expires_at"] = expiry;
        assert_eq!(serde_json::from_value::<Pointer>(old).unwrap(), pointer);
    }

    #[test]
    fn versions_sort_by_time() {
        let job = JobId::parse("j-1").unwrap();
        let a = version_id(1_700_000_000, &job);
        let b = version_id(1_700_000_060, &job);
        assert!(a < b, "{a} {b}");
        assert!(a.starts_with("20231114T221320Z-"), "{a}");
    }
}
