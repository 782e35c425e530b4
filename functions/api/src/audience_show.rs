//! `GET /audiences/{result_set}`: the audiences the result set serves now, each with its size
//! and its users by value of every segment column (AGE by band), when they were made, and the
//! path of its users' pages.

use std::collections::BTreeMap;

use lambda_http::http::StatusCode;
use recoflow_core::form::Output;
use recoflow_core::outputs::audience::{AudienceManifest, ValueCount};
use serde::Serialize;

use crate::audience_read::{read_manifest, single_parameters};
use crate::call::Call;
use crate::output_pointer::pointer_holding;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::result_set_param;

#[derive(Serialize)]
struct Shown<'a> {
    result_set: &'a str,
    version: &'a str,
    job_id: &'a str,
    /// When the audiences were written, and when their version was made current.
    created: &'a str,
    published_at: &'a str,
    /// Users in all the audiences.
    size: u64,
    /// The segment's columns each user's row carries.
    columns: &'a [String],
    #[serde(skip_serializing_if = "Option::is_none")]
    size_limit: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    min_score: Option<f64>,
    audiences: Vec<AudienceShown<'a>>,
}

#[derive(Serialize)]
struct AudienceShown<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    item: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    item_filter: Option<&'a BTreeMap<String, Vec<String>>>,
    size: u64,
    breakdown: &'a BTreeMap<String, Vec<ValueCount>>,
    /// Its users, a page at a time.
    users_path: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<&'a str>,
}

pub async fn show_audience<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    single_parameters(call.request, &[])?;
    let pointer = pointer_holding(ports, result_set, Output::Audience).await?;
    let manifest = read_manifest(ports, result_set, &pointer.version)
        .await?
        .ok_or_else(|| {
            ApiError::service(format!(
                "version {} of {result_set} has no audiences' manifest",
                pointer.version
            ))
        })?;
    Ok(json_response(
        StatusCode::OK,
        &shown(&manifest, &pointer.published_at),
    ))
}

fn shown<'a>(manifest: &'a AudienceManifest, published_at: &'a str) -> Shown<'a> {
    let result_set = &manifest.result_set;
    Shown {
        result_set,
        version: &manifest.version,
        job_id: manifest.job_id.as_str(),
        created: &manifest.created_at,
        published_at,
        size: manifest.users(),
        columns: &manifest.columns,
        size_limit: manifest.size,
        min_score: manifest.min_score,
        audiences: manifest
            .audiences
            .iter()
            .map(|audience| AudienceShown {
                item: audience.item.as_deref(),
                item_filter: audience.item_filter.as_ref(),
                size: audience.size,
                breakdown: &audience.breakdown,
                users_path: match &audience.item {
                    Some(item) => format!(
                        "/audiences/{result_set}/users?item={}",
                        percent_encoding::utf8_percent_encode(item, percent_encoding::NON_ALPHANUMERIC)
                    ),
                    None => format!("/audiences/{result_set}/users"),
                },
                error: audience.error.as_deref(),
            })
            .collect(),
    }
}
