//! The query of a paged listing (`GET /jobs`, `GET /result-sets`, a result set's versions):
//! `limit` and `next`, nothing else; `next` is a cursor the listing gave out.

use lambda_http::{Request, RequestExt};

use crate::response::ApiError;

/// The most a page holds, whatever `limit` asks.
pub const MAX_PAGE: u32 = 100;

/// A `<created_at>~<id>` cursor of a listing by creation time (the schedules', the
/// triggers'), if it is well formed and `is_id` takes its id.
pub fn created_at_cursor(next: &str, is_id: impl Fn(&str) -> bool) -> Option<String> {
    let (created_at, id) = next.rsplit_once('~')?;
    let well_formed = created_at.len() <= 40
        && created_at
            .bytes()
            .all(|b| b.is_ascii_digit() || matches!(b, b'-' | b':' | b'.' | b'T' | b'Z'));
    (well_formed && is_id(id)).then(|| next.to_owned())
}

/// The page size (`default` unless `limit` says otherwise) and where the page starts (the
/// cursor `decode` makes of `next`), or the parameter in the way.
pub fn page_asked<C>(
    request: &Request,
    default: u32,
    decode: impl Fn(&str) -> Option<C>,
) -> Result<(u32, Option<C>), ApiError> {
    let parameters = request.query_string_parameters();
    if let Some((name, _)) = parameters
        .iter()
        .find(|(name, _)| !["limit", "next"].contains(name))
    {
        return Err(ApiError::invalid_parameter(
            name,
            "unknown query parameter; use limit or next",
        ));
    }
    let limit = match parameters.first("limit") {
        None => default,
        Some(limit) => match limit.parse::<u32>() {
            Ok(limit) if (1..=MAX_PAGE).contains(&limit) => limit,
            _ => {
                let problem = format!("must be a whole number from 1 to {MAX_PAGE}, got {limit:?}");
                return Err(ApiError::invalid_parameter("limit", &problem));
            }
        },
    };
    let after = parameters
        .first("next")
        .map(|next| {
            decode(next).ok_or_else(|| {
                ApiError::invalid_parameter("next", "not a cursor this API gave out; start again without it")
            })
        })
        .transpose()?;
    Ok((limit, after))
}
