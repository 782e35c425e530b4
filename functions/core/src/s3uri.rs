//! `s3://bucket/key` URIs as written in forms.

use std::fmt;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct S3Uri {
    pub bucket: String,
    pub key: String,
}

impl S3Uri {
    /// Parses an S3 URI naming one object. The error is a sentence for a business user.
    pub fn parse(uri: &str) -> Result<Self, String> {
        let parsed = Self::split(uri)?;
        if parsed.key.is_empty() || parsed.key.ends_with('/') {
            return Err(format!("\"{uri}\" names a folder, not a file"));
        }
        Ok(parsed)
    }

    /// Parses an S3 URI naming a folder: its key, a prefix, ends in `/`.
    pub fn parse_folder(uri: &str) -> Result<Self, String> {
        let parsed = Self::split(uri)?;
        if !parsed.key.ends_with('/') {
            return Err(format!("\"{uri}\" names a file, not a folder"));
        }
        Ok(parsed)
    }

    fn split(uri: &str) -> Result<Self, String> {
        let rest = uri
            .strip_prefix("s3://")
            .ok_or_else(|| format!("\"{uri}\" is not an S3 URI: it must start with s3://"))?;
        let (bucket, key) = rest.split_once('/').ok_or_else(|| {
            format!("\"{uri}\" names a bucket but no file: write s3://bucket/path/file.csv")
        })?;
        if !is_valid_bucket_name(bucket) {
            return Err(format!(
                "\"{bucket}\" in \"{uri}\" is not a valid S3 bucket name (3-63 lower-case letters, digits, dots or hyphens)"
            ));
        }
        Ok(Self {
            bucket: bucket.to_owned(),
            key: key.to_owned(),
        })
    }
}

/// An object key as S3 event notifications spell it (URL-encoded, `+` for spaces), decoded.
pub fn decode_event_key(raw: &str) -> String {
    let spaced = raw.replace('+', " ");
    percent_encoding::percent_decode_str(&spaced)
        .decode_utf8_lossy()
        .into_owned()
}

impl fmt::Display for S3Uri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "s3://{}/{}", self.bucket, self.key)
    }
}

fn is_valid_bucket_name(name: &str) -> bool {
    let bytes = name.as_bytes();
    (3..=63).contains(&bytes.len())
        && bytes
            .iter()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'.' || *b == b'-')
        && bytes[0].is_ascii_alphanumeric()
        && bytes[bytes.len() - 1].is_ascii_alphanumeric()
        && !name.contains("..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_bucket_and_key() {
        let uri = S3Uri::parse("s3://data-bucket/shop/interactions.csv").unwrap();
        assert_eq!(uri.bucket, "data-bucket");
        assert_eq!(uri.key, "shop/interactions.csv");
        assert_eq!(uri.to_string(), "s3://data-bucket/shop/interactions.csv");
    }

    #[test]
    fn refuses_malformed_uris() {
        for bad in [
            "https://bucket/key",
            "s3://bucket",
            "s3://bucket/",
            "s3://Bad_Bucket/key",
            "s3://ab/key",
            "s3://bucket/folder/",
            "s3://-bucket/key",
        ] {
            assert!(S3Uri::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn a_folder_is_a_prefix_ending_in_a_slash() {
        let folder = S3Uri::parse_folder("s3://results/jobs/j/input/users/").unwrap();
        assert_eq!(folder.key, "jobs/j/input/users/");
        for bad in [
            "s3://results/jobs/j/input/users.jsonl",
            "s3://results",
            "s3://Bad/x/",
        ] {
            assert!(S3Uri::parse_folder(bad).is_err(), "{bad} should be refused");
        }
    }
}
