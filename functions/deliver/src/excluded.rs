//! The form's banned items (`exclude_items`): never published, and kept with the version.

use std::collections::HashSet;

use recoflow_core::form::JobForm;
use recoflow_core::ports::{ObjectRead, ObjectStore};
use recoflow_core::s3uri::S3Uri;

use crate::error::DeliverError;
use crate::ports::DeliverPorts;

/// Banned-items files: at most this many ids (they are stored with the version).
const MAX_EXCLUDED_ITEMS: usize = 10_000;
const MAX_EXCLUDE_FILE_BYTES: u64 = 1024 * 1024;

/// One id per line, or the first column of a CSV (an `ITEM_ID` header is skipped).
pub(crate) async fn excluded_items<P: DeliverPorts>(
    ports: &P,
    form: &JobForm,
) -> Result<HashSet<String>, DeliverError> {
    let Some(uri) = &form.exclude_items else {
        return Ok(HashSet::new());
    };
    let invalid = |reason: String| DeliverError::DatasetInvalid {
        field: "exclude_items".into(),
        uri: uri.clone(),
        reason,
    };
    let location = S3Uri::parse(uri).map_err(invalid)?;
    let body = match ports
        .objects()
        .read_limited(&location.bucket, &location.key, None, MAX_EXCLUDE_FILE_BYTES)
        .await?
    {
        ObjectRead::Body(body) => body,
        ObjectRead::TooLarge { size } => {
            return Err(invalid(format!(
                "is {size} bytes; at most {MAX_EXCLUDE_FILE_BYTES} are read"
            )))
        }
        ObjectRead::Missing => return Err(invalid("does not exist".into())),
    };
    let text = String::from_utf8(body).map_err(|_| invalid("is not UTF-8 text".into()))?;
    let items = item_ids(&text);
    if items.len() > MAX_EXCLUDED_ITEMS {
        return Err(invalid(format!(
            "lists {} items; at most {MAX_EXCLUDED_ITEMS} are allowed",
            items.len()
        )));
    }
    Ok(items)
}

fn item_ids(text: &str) -> HashSet<String> {
    text.lines()
        .filter_map(|line| line.split(',').next())
        .map(|id| id.trim().trim_matches('"').trim_start_matches('\u{feff}'))
        .filter(|id| !id.is_empty() && !id.eq_ignore_ascii_case("ITEM_ID"))
        .map(str::to_owned)
        .collect()
}
