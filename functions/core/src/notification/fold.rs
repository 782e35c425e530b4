//! Folding: failures of one cause share a signature, so past a few messages in a window the
//! rest go into one summary. The signature is the error name and the cause with everything that
//! differs from job to job blanked: the job's own id and name, resource names (`rf-…`), ARNs,
//! S3 locations under a job's prefix, per-job parts of paths, UUIDs, hex ids, request ids,
//! times and numbers. What stays is the words that say what went wrong.

use sha2::{Digest, Sha256};

use crate::job::{JobFailure, JobRecord};

/// Words of the cause that count (a long cause differs in its tail, rarely in its point).
const SIGNATURE_WORDS: usize = 40;

/// The signature of a job's failure (its own id and name blanked too).
pub fn job_fold_signature(record: &JobRecord, failure: &JobFailure) -> String {
    let mut own = vec![record.job_id.as_str()];
    own.extend(record.job_name.as_deref());
    signature(&failure.error, &failure.cause, &own)
}

/// `<error>-<hash of the normalised cause>`; `job_tokens` are the job's own words (id, name).
fn signature(error: &str, cause: &str, job_tokens: &[&str]) -> String {
    let mut text = cause.to_owned();
    // The job's own words first, longest first, so a name inside an id goes with the id.
    let mut own: Vec<&str> = job_tokens.iter().copied().filter(|t| t.len() >= 3).collect();
    own.sort_by_key(|t| std::cmp::Reverse(t.len()));
    for token in own {
        text = replace_word(&text, token, "JOB");
    }
    let normal: Vec<String> = text
        .split_whitespace()
        .take(SIGNATURE_WORDS)
        .map(normalise_word)
        .collect();
    let digest = Sha256::digest(format!("{error}\n{}", normal.join(" ")).as_bytes());
    let hex: String = digest.iter().take(8).map(|b| format!("{b:02x}")).collect();
    format!("{error}-{hex}")
}

/// `text` with `word` replaced where it stands on its own (not inside a longer word of letters
/// and digits: a job named "shop" leaves "workshop" alone).
fn replace_word(text: &str, word: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(word) {
        let before = rest[..at].chars().next_back();
        let after = rest[at + word.len()..].chars().next();
        let alone = !before.is_some_and(char::is_alphanumeric) && !after.is_some_and(char::is_alphanumeric);
        out.push_str(&rest[..at]);
        out.push_str(if alone { with } else { word });
        rest = &rest[at + word.len()..];
    }
    out.push_str(rest);
    out
}

/// One whitespace-separated word: an ARN or a job's S3 location as a whole, else each path
/// segment and each piece between punctuation on its own.
fn normalise_word(word: &str) -> String {
    let bare = word.trim_matches(|c: char| "()[]{}\"',;".contains(c));
    if bare.starts_with("arn:") {
        return "<arn>".into();
    }
    if bare.starts_with("s3://") && bare.contains("/jobs/") {
        return "<job-s3>".into();
    }
    let mut out = String::with_capacity(word.len());
    let mut piece = String::new();
    for c in word.chars() {
        if c.is_alphanumeric() || c == '-' || c == '_' {
            piece.push(c);
        } else {
            out.push_str(&normalise_piece(&piece));
            piece.clear();
            out.push(c);
        }
    }
    out.push_str(&normalise_piece(&piece));
    out
}

/// A run of letters, digits, `-` and `_`.
fn normalise_piece(piece: &str) -> String {
    if piece.is_empty() {
        return String::new();
    }
    let lower = piece.to_ascii_lowercase();
    if lower.starts_with("rf-") || lower.contains("-rf-") || lower.starts_with("rf_") {
        return "<name>".into();
    }
    if is_uuid(piece) {
        return "<uuid>".into();
    }
    if has_hex_id(piece) {
        return "<id>".into();
    }
    // A number of any length is one `#`: "12 users" and "3 users" are one cause.
    let mut out = String::with_capacity(piece.len());
    for c in piece.chars() {
        if !c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('#') {
            out.push('#');
        }
    }
    out
}

fn is_uuid(piece: &str) -> bool {
    let groups: Vec<&str> = piece.split('-').collect();
    groups.len() == 5
        && groups.iter().map(|g| g.len()).eq([8, 4, 4, 4, 12])
        && groups.iter().all(|g| g.chars().all(|c| c.is_ascii_hexdigit()))
}

/// A hex run of 8 or more that mixes digits and letters (a digest, a request or execution id):
/// `spring-7f3a9c0d1e2b…`, `a1b2c3d4e5f6`. Plain words and plain numbers are not ids.
fn has_hex_id(piece: &str) -> bool {
    piece.split(['-', '_']).any(|part| {
        part.len() >= 8
            && part.chars().all(|c| c.is_ascii_hexdigit())
            && part.chars().any(|c| c.is_ascii_digit())
            && part.chars().any(|c| c.is_ascii_alphabetic())
    })
}
