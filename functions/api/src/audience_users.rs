//! `GET /audiences/{result_set}/users?item=<item id>&limit=100&next=<cursor>`: one audience's
//! users, best first, a page at a time, as its CSV has them (the CSV, these pages and the
//! breakdown are one). `item` names the audience (an audience for an item filter needs none);
//! `limit` is 1 to 1000 (100). A cursor names the version it was read from, so paging goes on
//! in that version even after a newer one is published.

use lambda_http::http::StatusCode;
use recoflow_core::form::Output;
use recoflow_core::outputs::audience::AudienceManifest;
use serde::Serialize;
use serde_json::{Map, Value};

use crate::audience_read::{read_manifest, read_rows, single_parameters, Row};
use crate::call::Call;
use crate::output_pointer::pointer_holding;
use crate::ports::ApiPorts;
use crate::recommendations::valid_user_id;
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::{is_version_id, result_set_param};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// Where a page starts: the version, the audience (its ordinal) and the byte offset in its CSV.
#[derive(Debug, PartialEq)]
struct Cursor {
    version: String,
    audience: usize,
    offset: u64,
}

impl Cursor {
    fn encode(&self) -> String {
        format!("{}~{}~{}", self.version, self.audience, self.offset)
    }

    fn decode(text: &str) -> Option<Self> {
        let mut parts = text.split('~');
        let cursor = Cursor {
            version: parts.next().filter(|v| is_version_id(v))?.to_owned(),
            audience: parts.next()?.parse().ok()?,
            offset: parts.next()?.parse().ok()?,
        };
        parts.next().is_none().then_some(cursor)
    }
}

#[derive(Serialize)]
struct Page<'a> {
    result_set: &'a str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a str>,
    users: Vec<Value>,
    next: Option<String>,
}

struct Asked {
    item: Option<String>,
    limit: usize,
    cursor: Option<Cursor>,
}

fn asked(call: &Call<'_>) -> Result<Asked, ApiError> {
    let mut query = single_parameters(call.request, &["item", "limit", "next"])?;
    let item = query.remove("item");
    if let Some(item) = &item {
        if !valid_user_id(item) {
            return Err(ApiError::invalid_parameter(
                "item",
                "must be 1 to 256 characters without control characters",
            ));
        }
    }
    let limit = match query.remove("limit") {
        None => DEFAULT_LIMIT,
        Some(limit) => limit
            .parse::<usize>()
            .ok()
            .filter(|l| (1..=MAX_LIMIT).contains(l))
            .ok_or_else(|| {
                let problem = format!("must be a whole number from 1 to {MAX_LIMIT}, got {limit:?}");
                ApiError::invalid_parameter("limit", &problem)
            })?,
    };
    let cursor = match query.remove("next") {
        None => None,
        Some(next) => Some(Cursor::decode(&next).ok_or_else(not_a_cursor)?),
    };
    Ok(Asked { item, limit, cursor })
}

fn not_a_cursor() -> ApiError {
    ApiError::invalid_parameter("next", "not a cursor this API gave out; start again without it")
}

/// The audience `item` names in the manifest (none: the one audience of an item filter).
fn audience_of(manifest: &AudienceManifest, item: Option<&str>) -> Result<usize, ApiError> {
    let found = manifest.audiences.iter().position(|a| match item {
        Some(item) => a.item.as_deref() == Some(item),
        None => a.item_filter.is_some(),
    });
    found.ok_or_else(|| {
        let items: Vec<&str> = manifest
            .audiences
            .iter()
            .filter_map(|a| a.item.as_deref())
            .collect();
        let problem = match item {
            Some(item) if items.is_empty() => {
                format!("this result set's audience is for an item filter, not item {item:?}: leave item out")
            }
            Some(item) => format!(
                "no audience of this result set is for {item:?}; its items: {}",
                items.join(", ")
            ),
            None => format!("name the audience's item; its items: {}", items.join(", ")),
        };
        ApiError::invalid_parameter("item", &problem)
    })
}

pub async fn audience_users<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let asked = asked(call)?;
    let pointer = pointer_holding(ports, result_set, Output::Audience).await?;
    let version = asked
        .cursor
        .as_ref()
        .map_or(pointer.version.as_str(), |c| c.version.as_str());
    let manifest = match read_manifest(ports, result_set, version).await? {
        Some(manifest) => manifest,
        None if asked.cursor.is_some() => return Err(not_a_cursor()),
        None => {
            return Err(ApiError::service(format!(
                "version {version} of {result_set} has no audiences' manifest"
            )))
        }
    };
    let audience = audience_of(&manifest, asked.item.as_deref())?;
    let offset = match &asked.cursor {
        Some(cursor) if cursor.audience != audience => return Err(not_a_cursor()),
        Some(cursor) => cursor.offset,
        None => 0,
    };
    let csv = &manifest.audiences[audience].csv;
    let (rows, next) = read_rows(ports, csv, offset, asked.limit)
        .await?
        .ok_or_else(|| ApiError::service(format!("the audience's CSV {csv} is missing")))?;
    let page = Page {
        result_set,
        version,
        item: manifest.audiences[audience].item.as_deref(),
        users: rows.into_iter().map(|row| user(&manifest.columns, row)).collect(),
        next: next.map(|offset| {
            Cursor {
                version: version.to_owned(),
                audience,
                offset,
            }
            .encode()
        }),
    };
    Ok(json_response(StatusCode::OK, &page))
}

fn user(columns: &[String], row: Row) -> Value {
    let attributes: Map<String, Value> = columns
        .iter()
        .cloned()
        .zip(row.values.into_iter().map(Value::String))
        .collect();
    serde_json::json!({"user_id": row.user_id, "score": row.score, "attributes": attributes})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cursors_read_back_and_nothing_else_does() {
        let cursor = Cursor {
            version: "20261201T081416Z-c5dd147e".into(),
            audience: 2,
            offset: 4096,
        };
        assert_eq!(Cursor::decode(&cursor.encode()), Some(cursor));
        for bad in ["", "x", "v~1", "v~1~2~3", "../x~1~2", "v~-1~2", "v~1~big"] {
            assert_eq!(Cursor::decode(bad), None, "{bad}");
        }
    }
}
