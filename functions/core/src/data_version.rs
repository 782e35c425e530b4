//! Which upload of each data file a job read, or a trigger saw: what "the data changed" and
//! "a newer version" mean for triggers and for skipping unchanged runs.

use serde::{Deserialize, Serialize};

use crate::ports::ObjectVersion;

/// One data file of a form as it was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DataVersion {
    /// The form field, e.g. `dataset.interactions`.
    pub field: String,
    pub uri: String,
    pub size: u64,
    #[serde(flatten)]
    pub version: ObjectVersion,
}

impl DataVersion {
    pub fn new(field: &str, uri: &str, size: u64, version: ObjectVersion) -> Self {
        Self {
            field: field.to_owned(),
            uri: uri.to_owned(),
            size,
            version,
        }
    }

    /// The same bytes as `other` (the same file): the same version, or, for a file uploaded
    /// again or in a bucket without versions, the same ETag and size. Unknown is never the same.
    pub fn same_content(&self, other: &DataVersion) -> bool {
        let (mine, theirs) = (&self.version, &other.version);
        let same_version = mine.version_id.is_some() && mine.version_id == theirs.version_id;
        let same_bytes = mine.etag.is_some() && mine.etag == theirs.etag && self.size == other.size;
        self.field == other.field && self.uri == other.uri && (same_version || same_bytes)
    }

    /// Whether this is a later upload than `before` of the same file: another version written
    /// no earlier (S3's times are to the second, so two uploads may share one), or, without
    /// version ids, a later write.
    pub fn is_newer_than(&self, before: &DataVersion) -> bool {
        let (now, then) = (&self.version, &before.version);
        let not_older = match (now.last_modified, then.last_modified) {
            (Some(now), Some(then)) => now >= then,
            _ => true,
        };
        match (&now.version_id, &then.version_id) {
            (Some(now_id), Some(then_id)) => now_id != then_id && not_older,
            _ => match (now.last_modified, then.last_modified) {
                (Some(now), Some(then)) => now > then,
                _ => now.etag != then.etag,
            },
        }
    }

    /// `version <id>` or `ETag <etag>`, for messages.
    pub fn label(&self) -> String {
        match (&self.version.version_id, &self.version.etag) {
            (Some(id), _) => format!("{} version {id}", self.field),
            (None, Some(etag)) => format!("{} ETag {etag}", self.field),
            (None, None) => format!("{} ({} bytes)", self.field, self.size),
        }
    }
}

/// Every file of `now` has the same content as the file of the same field in `then`, and the
/// two name the same files.
pub fn same_data(now: &[DataVersion], then: &[DataVersion]) -> bool {
    now.len() == then.len()
        && now
            .iter()
            .all(|file| then.iter().any(|earlier| file.same_content(earlier)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(version_id: Option<&str>, etag: &str, size: u64, at: i64) -> DataVersion {
        DataVersion::new(
            "dataset.interactions",
            "s3://data/i.csv",
            size,
            ObjectVersion {
                version_id: version_id.map(Into::into),
                etag: Some(etag.into()),
                last_modified: Some(at),
            },
        )
    }

    #[test]
    fn the_same_bytes_uploaded_again_are_the_same_content_but_a_newer_version() {
        let first = file(Some("v1"), "e1", 10, 100);
        let again = file(Some("v2"), "e1", 10, 160);
        assert!(again.same_content(&first), "same ETag and size");
        assert!(again.is_newer_than(&first));
        assert!(!first.is_newer_than(&first), "the version itself is not newer");
        let changed = file(Some("v3"), "e2", 11, 160);
        assert!(!changed.same_content(&first));
        // Two uploads within one second: told apart by their version ids.
        assert!(file(Some("v4"), "e3", 10, 160).is_newer_than(&again));
        // An older version made the latest again (the newer one deleted) is not new data.
        assert!(!file(Some("v0"), "e0", 10, 50).is_newer_than(&first));
    }

    #[test]
    fn without_version_ids_the_write_time_and_etag_decide() {
        let before = file(None, "e1", 10, 100);
        assert!(file(None, "e1", 10, 101).is_newer_than(&before));
        assert!(!file(None, "e2", 10, 100).is_newer_than(&before));
        assert!(file(None, "e1", 10, 101).same_content(&before));
        let unknown = DataVersion::new(
            "dataset.interactions",
            "s3://data/i.csv",
            10,
            ObjectVersion::default(),
        );
        assert!(!unknown.same_content(&unknown), "nothing known is never the same");
    }

    #[test]
    fn same_data_needs_every_file_the_same() {
        let users = DataVersion {
            field: "dataset.users".into(),
            uri: "s3://data/u.csv".into(),
            ..file(Some("u1"), "eu", 5, 100)
        };
        let then = [file(Some("v1"), "e1", 10, 100), users.clone()];
        assert!(same_data(
            &[users.clone(), file(Some("v2"), "e1", 10, 200)],
            &then
        ));
        assert!(
            !same_data(&[file(Some("v1"), "e1", 10, 100)], &then),
            "a file less"
        );
        assert!(!same_data(&[users, file(Some("v2"), "e9", 10, 200)], &then));
    }
}
