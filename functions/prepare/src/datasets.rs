//! The form's data files, checked before anything runs: each exists, each CSV has the
//! columns Amazon Personalize needs, and the users file every column the form's segment and
//! fallback name (read from its header alone, whatever the file's size).

use recoflow_core::data_version::DataVersion;
use recoflow_core::form::JobForm;
use recoflow_core::job::PreparedFile;
use recoflow_core::ports::{ObjectStore, ObjectVersion};
use recoflow_core::s3uri::S3Uri;
use recoflow_core::segment::UserCriteria;

use crate::error::PrepareError;

/// A CSV header longer than this is not a header.
const MAX_HEADER_BYTES: u64 = 64 * 1024;

/// Columns each dataset file must have (Amazon Personalize conventions).
fn required_columns(field: &str) -> &'static [&'static str] {
    match field {
        "dataset.interactions" => &["USER_ID", "ITEM_ID", "TIMESTAMP"],
        "dataset.users" => &["USER_ID"],
        "dataset.items" => &["ITEM_ID"],
        _ => &[],
    }
}

/// The form's files as checked, and which upload of each dataset file was read.
pub struct CheckedFiles {
    pub files: Vec<PreparedFile>,
    /// The dataset's files (what a schedule's or trigger's job compares with its last success).
    pub versions: Vec<DataVersion>,
}

/// Every file the form names, checked: the dataset's CSVs, and the excluded items' list.
pub async fn check_files<O: ObjectStore>(objects: &O, form: &JobForm) -> Result<CheckedFiles, PrepareError> {
    let mut checked = CheckedFiles {
        files: Vec::new(),
        versions: Vec::new(),
    };
    for (field, uri) in form.dataset.files() {
        let (file, version) = check_csv(objects, field, uri).await?;
        if field == "dataset.users" {
            check_named_columns(&UserCriteria::of(form), &file)?;
        }
        checked
            .versions
            .push(DataVersion::new(field, uri, file.bytes, version));
        checked.files.push(file);
    }
    if let Some(uri) = &form.exclude_items {
        checked
            .files
            .push(check_exists(objects, "exclude_items", uri).await?);
    }
    Ok(checked)
}

/// A form field's S3 URI, or the field named as invalid.
pub fn data_uri(field: &str, uri: &str) -> Result<S3Uri, PrepareError> {
    S3Uri::parse(uri).map_err(|reason| PrepareError::invalid(field, uri, reason))
}

async fn check_exists<O: ObjectStore>(
    objects: &O,
    field: &str,
    uri: &str,
) -> Result<PreparedFile, PrepareError> {
    let location = data_uri(field, uri)?;
    let bytes = objects
        .size(&location.bucket, &location.key)
        .await?
        .ok_or_else(|| PrepareError::missing(field, uri))?;
    Ok(PreparedFile {
        field: field.to_owned(),
        uri: uri.to_owned(),
        bytes,
        columns: Vec::new(),
    })
}

/// The file checked, and the version of it that was read (the answer's headers carry it).
async fn check_csv<O: ObjectStore>(
    objects: &O,
    field: &str,
    uri: &str,
) -> Result<(PreparedFile, ObjectVersion), PrepareError> {
    let location = data_uri(field, uri)?;
    // One ranged GET gives the header and the file's size, whatever the file's size.
    let head = objects
        .read_head(&location.bucket, &location.key, MAX_HEADER_BYTES)
        .await?
        .ok_or_else(|| PrepareError::missing(field, uri))?;
    let columns = header_columns(&head.bytes).map_err(|reason| PrepareError::invalid(field, uri, reason))?;
    let absent: Vec<&str> = required_columns(field)
        .iter()
        .copied()
        .filter(|required| !columns.iter().any(|c| c == required))
        .collect();
    if !absent.is_empty() {
        let reason = format!(
            "lacks required column(s) {}; its header has {}",
            absent.join(", "),
            columns.join(", ")
        );
        return Err(PrepareError::invalid(field, uri, reason));
    }
    let file = PreparedFile {
        field: field.to_owned(),
        uri: uri.to_owned(),
        bytes: head.size,
        columns,
    };
    Ok((file, head.version))
}

/// The users file has every column the segment and the fallback name (its header's names are
/// upper case already; the form's may be in any case).
fn check_named_columns(criteria: &UserCriteria, users: &PreparedFile) -> Result<(), PrepareError> {
    let absent = criteria
        .columns()
        .into_iter()
        .find(|(column, _)| !users.columns.iter().any(|c| c.eq_ignore_ascii_case(column)));
    match absent {
        None => Ok(()),
        Some((column, field)) => Err(PrepareError::invalid(
            &users.field,
            &users.uri,
            format!(
                "has no {column} column, which {field} needs; its header has {}",
                users.columns.join(", ")
            ),
        )),
    }
}

/// Column names of a CSV header, upper-cased and trimmed (Personalize matches them that way).
fn header_columns(head: &[u8]) -> Result<Vec<String>, String> {
    if head.is_empty() {
        return Err("is empty".to_owned());
    }
    let end = head.iter().position(|b| *b == b'\n').ok_or_else(|| {
        if head.len() as u64 >= MAX_HEADER_BYTES {
            format!(
                "has no line break in its first {} KiB: it is not a CSV file",
                MAX_HEADER_BYTES / 1024
            )
        } else {
            "has a header but no rows".to_owned()
        }
    })?;
    let line = std::str::from_utf8(&head[..end])
        .map_err(|_| "has a header that is not UTF-8 text".to_owned())?
        .trim_start_matches('\u{feff}');
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(line.as_bytes());
    let record = reader
        .records()
        .next()
        .transpose()
        .map_err(|e| format!("has a header that is not valid CSV: {e}"))?
        .unwrap_or_default();
    Ok(record.iter().map(|c| c.trim().to_ascii_uppercase()).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_read_as_csv() {
        assert_eq!(
            header_columns(b"\"USER_ID\",\"a,b\" , item_id\r\nu1,x,i1\n").unwrap(),
            ["USER_ID", "A,B", "ITEM_ID"]
        );
        assert_eq!(
            header_columns(b"USER_ID").unwrap_err(),
            "has a header but no rows"
        );
    }
}
