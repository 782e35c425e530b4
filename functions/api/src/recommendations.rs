//! `GET /recommendations/{result_set}/{user_id}?n=10&gender=F&age=27&region=tokyo`
//!
//! The user's own list when the job scored them (`personalized`); else the most popular items
//! of their segment (attributes from the query string, else from the job's users data:
//! `segment`); else the result set's most popular items (`global`). A personalized list
//! shorter than `n` once banned items are removed is backfilled from the fallback.
//!
//! Cost: the result set's pointer (cached for `POINTER_MAX_AGE`), then one BatchGetItem for the
//! user's list, their stored attributes, the global list, the banned items and the segments of
//! the query's attributes; a second one only when a segment from stored attributes is needed.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Request, RequestExt, Response};
use recoflow_core::delivery::{keys, Attributes, Pointer, StoredList, MAX_LIST_ITEMS, MAX_USER_ID_CHARS};
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::RecommendationStore;
use serde::Serialize;

use crate::handler::{error_response, json_response, service_failure};

/// How stale a result set's pointer may be: a new version is served at most this long after
/// it is published.
pub const POINTER_MAX_AGE: Duration = Duration::from_secs(5);
const MAX_ATTRIBUTE_CHARS: usize = 64;
const QUERY_PARAMETERS: [&str; 4] = ["n", "gender", "age", "region"];

/// Result-set pointers read recently, per function instance.
#[derive(Default)]
pub struct PointerCache {
    entries: Mutex<HashMap<String, (Instant, Option<Pointer>)>>,
}

impl PointerCache {
    async fn get<R: RecommendationStore>(
        &self,
        lists: &R,
        result_set: &str,
    ) -> Result<Option<Pointer>, ServiceError> {
        if let Some((read_at, pointer)) = self.entries.lock().unwrap().get(result_set) {
            if read_at.elapsed() < POINTER_MAX_AGE {
                return Ok(pointer.clone());
            }
        }
        let pointer = lists.pointer(result_set).await?;
        let mut entries = self.entries.lock().unwrap();
        // Bounded: a flood of made-up result sets must not grow it without end.
        if entries.len() > 1_000 {
            entries.clear();
        }
        entries.insert(result_set.to_owned(), (Instant::now(), pointer.clone()));
        Ok(pointer)
    }
}

#[derive(Serialize)]
struct Recommended<'a> {
    item_id: &'a str,
    score: f64,
}

#[derive(Serialize)]
struct Answer<'a> {
    result_set: &'a str,
    user_id: &'a str,
    version: &'a str,
    source: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    segment: Option<&'a str>,
    items: Vec<Recommended<'a>>,
    /// Items taken from the fallback to fill a list shorter than `n`.
    backfilled: usize,
}

fn bad_parameter(name: &str, problem: &str) -> Response<Body> {
    error_response(
        StatusCode::BAD_REQUEST,
        "InvalidParameter",
        &format!("{name}: {problem}"),
    )
}

fn plain_text(value: &str, max: usize) -> bool {
    !value.is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

/// A user id is plain text as given and, should a gateway pass the path undecoded (LocalStack
/// does; API Gateway decodes it), once percent-decoded too, so `%0A` cannot smuggle a newline.
fn valid_user_id(user_id: &str) -> bool {
    plain_text(user_id, MAX_USER_ID_CHARS)
        && match percent_encoding::percent_decode_str(user_id).decode_utf8() {
            Ok(decoded) => plain_text(&decoded, MAX_USER_ID_CHARS),
            Err(_) => false,
        }
}

fn is_result_set_name(name: &str) -> bool {
    (3..=48).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// What the query string asks for.
struct Query {
    n: Option<usize>,
    attributes: Attributes,
}

/// A query parameter that cannot be used: its name and what is wrong.
struct BadParameter(String, String);

fn bad(name: &str, problem: impl Into<String>) -> BadParameter {
    BadParameter(name.to_owned(), problem.into())
}

fn parse_query(request: &Request) -> Result<Query, BadParameter> {
    let parameters = request.query_string_parameters();
    let mut single = HashMap::new();
    for (name, _) in parameters.iter() {
        if !QUERY_PARAMETERS.contains(&name) {
            return Err(bad(name, "unknown query parameter; use n, gender, age or region"));
        }
        let values = parameters.all(name).unwrap_or_default();
        if values.len() > 1 {
            return Err(bad(name, "given more than once"));
        }
        single.insert(name.to_owned(), values[0].to_owned());
    }
    let n = match single.get("n") {
        None => None,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_ITEMS).contains(&n) => Some(n),
            _ => {
                return Err(bad(
                    "n",
                    format!("must be a whole number from 1 to {MAX_LIST_ITEMS}, got {n:?}"),
                ))
            }
        },
    };
    for name in ["gender", "region"] {
        if let Some(value) = single.get(name) {
            if !plain_text(value, MAX_ATTRIBUTE_CHARS) {
                return Err(bad(
                    name,
                    format!("must be 1 to {MAX_ATTRIBUTE_CHARS} characters without control characters"),
                ));
            }
        }
    }
    if let Some(age) = single.get("age") {
        if !age.parse::<u32>().is_ok_and(|a| a <= 150) {
            return Err(bad(
                "age",
                format!("must be a whole number from 0 to 150, got {age:?}"),
            ));
        }
    }
    Ok(Query {
        n,
        attributes: Attributes::from_raw(
            single.get("gender").map(String::as_str),
            single.get("age").map(String::as_str),
            single.get("region").map(String::as_str),
        ),
    })
}

/// Builds the answer's list: at most `n` items, none banned, none twice.
struct Picker<'a> {
    n: usize,
    banned: &'a HashSet<String>,
    seen: HashSet<&'a str>,
    chosen: Vec<(&'a str, f64)>,
}

impl<'a> Picker<'a> {
    fn new(n: usize, banned: &'a HashSet<String>) -> Self {
        Self {
            n,
            banned,
            seen: HashSet::new(),
            chosen: Vec::with_capacity(n),
        }
    }

    /// Adds items of `list` until `n`; answers how many it added.
    fn take(&mut self, list: &'a StoredList) -> usize {
        let before = self.chosen.len();
        let scores = list.scores.iter().copied().chain(std::iter::repeat(0.0));
        for (item, score) in list.items.iter().zip(scores) {
            if self.chosen.len() >= self.n {
                break;
            }
            if !self.banned.contains(item) && self.seen.insert(item) {
                self.chosen.push((item, score));
            }
        }
        self.chosen.len() - before
    }
}

/// The most specific segment list present among these segment keys.
fn best_segment<'a>(
    lists: &'a HashMap<String, StoredList>,
    result_set: &str,
    version: &str,
    attributes: &Attributes,
) -> Option<(String, &'a StoredList)> {
    attributes.segment_keys().into_iter().find_map(|segment| {
        lists
            .get(&keys::segment(result_set, version, &segment))
            .map(|list| (segment, list))
    })
}

pub async fn recommend<R: RecommendationStore>(
    lists: &R,
    pointers: &PointerCache,
    request: &Request,
    result_set: &str,
    user_id: &str,
) -> Response<Body> {
    let not_found = || {
        error_response(
            StatusCode::NOT_FOUND,
            "ResultSetNotFound",
            &format!("no result set \"{result_set}\" has been published"),
        )
    };
    if !is_result_set_name(result_set) {
        return not_found();
    }
    if !valid_user_id(user_id) {
        return bad_parameter(
            "user_id",
            &format!("must be 1 to {MAX_USER_ID_CHARS} characters without control characters"),
        );
    }
    let query = match parse_query(request) {
        Ok(query) => query,
        Err(BadParameter(name, problem)) => return bad_parameter(&name, &problem),
    };
    let pointer = match pointers.get(lists, result_set).await {
        Ok(Some(pointer)) => pointer,
        Ok(None) => return not_found(),
        Err(err) => return service_failure(&err),
    };
    if pointer.expires_at > 0 && pointer.expires_at < time::OffsetDateTime::now_utc().unix_timestamp() {
        return error_response(
            StatusCode::GONE,
            "ResultSetExpired",
            &format!("result set \"{result_set}\" was last published at {}, and that version has expired; run its job again", pointer.published_at),
        );
    }
    match compose(lists, &pointer, user_id, &query).await {
        Ok(response) => response,
        Err(err) => service_failure(&err),
    }
}

async fn compose<R: RecommendationStore>(
    lists: &R,
    pointer: &Pointer,
    user_id: &str,
    query: &Query,
) -> Result<Response<Body>, ServiceError> {
    let (rs, version) = (pointer.result_set.as_str(), pointer.version.as_str());
    let user_key = keys::user(rs, version, user_id);
    let attributes_key = keys::attributes(rs, version, user_id);
    let global_key = keys::global(rs, version);
    let mut wanted = vec![
        user_key.clone(),
        attributes_key.clone(),
        global_key.clone(),
        keys::ALWAYS_BANNED.to_owned(),
    ];
    wanted.extend(
        query
            .attributes
            .segment_keys()
            .iter()
            .map(|s| keys::segment(rs, version, s)),
    );
    let mut found = lists.get_lists(&wanted).await?;
    let banned: HashSet<String> = found
        .get(keys::ALWAYS_BANNED)
        .map(|b| b.items.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(pointer.excluded_items.iter().cloned())
        .collect();
    let n = query
        .n
        .unwrap_or(pointer.num_results as usize)
        .clamp(1, MAX_LIST_ITEMS);

    // Whose segment: the query's attributes, else what the job's users data says.
    let mut attributes = query.attributes.clone();
    if attributes.is_empty() {
        if let Some(stored) = found.get(&attributes_key).and_then(|a| a.segment.clone()) {
            attributes = Attributes::from_segment_key(&stored);
        }
    }
    let personal = found.get(&user_key).cloned();
    let needs_fallback_segment = !attributes.is_empty()
        && query.attributes.is_empty()
        && personal
            .as_ref()
            .is_none_or(|p| p.items.iter().filter(|i| !banned.contains(*i)).count() < n);
    if needs_fallback_segment {
        let segment_keys: Vec<String> = attributes
            .segment_keys()
            .iter()
            .map(|s| keys::segment(rs, version, s))
            .collect();
        found.extend(lists.get_lists(&segment_keys).await?);
    }
    let segment = best_segment(&found, rs, version, &attributes);
    let global = found.get(&global_key);

    let mut picked = Picker::new(n, &banned);
    let (source, segment_used) = match (&personal, &segment) {
        (Some(list), _) => {
            picked.take(list);
            ("personalized", None)
        }
        (None, Some((name, list))) => {
            picked.take(list);
            ("segment", Some(name.as_str()))
        }
        (None, None) => ("global", None),
    };
    let mut backfilled = 0;
    if source == "personalized" {
        if let Some((_, list)) = &segment {
            backfilled += picked.take(list);
        }
    }
    if let Some(list) = global {
        let taken = picked.take(list);
        if source != "global" {
            backfilled += taken;
        }
    }
    let answer = Answer {
        result_set: rs,
        user_id,
        version,
        source,
        segment: segment_used,
        items: picked
            .chosen
            .iter()
            .map(|(item_id, score)| Recommended {
                item_id,
                score: *score,
            })
            .collect(),
        backfilled,
    };
    Ok(json_response(
        StatusCode::OK,
        &serde_json::to_value(answer).unwrap_or_default(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::handler::handle;
    use crate::handler::test_support::*;
    use recoflow_core::delivery::Pointer;
    use recoflow_core::job::JobId;
    use serde_json::{json, Value};

    const V: &str = "20261123T000000Z-aaaaaaaa";

    fn stored(pk: String, items: &[&str]) -> StoredList {
        StoredList {
            pk,
            items: items.iter().map(|i| i.to_string()).collect(),
            scores: (0..items.len()).map(|i| 1.0 - i as f64 / 100.0).collect(),
            segment: None,
            expires_at: 0,
        }
    }

    fn published() -> FakeDeps {
        let deps = deps();
        let mut lists = deps.lists.lists.lock().unwrap();
        for list in [
            stored(keys::user("spring", V, "u1"), &["a", "ng", "b"]),
            stored(keys::global("spring", V), &["g1", "g2", "a", "g3"]),
            stored(keys::segment("spring", V, "GENDER=F"), &["f1", "f2"]),
            stored(
                keys::segment("spring", V, "AGE=20-29|GENDER=F|REGION=tokyo"),
                &["t1", "t2", "t3"],
            ),
            stored(keys::segment("spring", V, "GENDER=M"), &["m1", "m2"]),
            stored(keys::ALWAYS_BANNED.to_owned(), &["g2"]),
            StoredList {
                segment: Some("AGE=40-49|GENDER=M|REGION=osaka".into()),
                ..stored(keys::attributes("spring", V, "known-new"), &[])
            },
        ] {
            lists.insert(list.pk.clone(), list);
        }
        drop(lists);
        deps.lists.pointers.lock().unwrap().insert(
            "spring".into(),
            Pointer {
                pk: keys::pointer("spring"),
                result_set: "spring".into(),
                version: V.into(),
                job_id: JobId::parse("spring-1").unwrap(),
                published_at: "2026-11-23T00:00:00.000Z".into(),
                num_results: 3,
                excluded_items: vec!["ng".into()],
                users: 1,
                segments: 3,
                expires_at: 0,
                previous_version: None,
            },
        );
        deps
    }

    async fn get(deps: &FakeDeps, path_and_query: &str) -> (StatusCode, Value) {
        let (path, query) = path_and_query.split_once('?').unwrap_or((path_and_query, ""));
        let mut request = request("GET", "/recommendations/{result_set}/{user_id}", path, "", &[]);
        if !query.is_empty() {
            let parameters: HashMap<String, Vec<String>> =
                query.split('&').fold(HashMap::new(), |mut all, pair| {
                    let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
                    all.entry(k.to_owned()).or_default().push(v.to_owned());
                    all
                });
            request = request.with_query_string_parameters(parameters);
        }
        let response = handle(deps, request).await;
        (response.status(), json_body(&response))
    }

    fn item_ids(body: &Value) -> Vec<&str> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item_id"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn a_scored_user_gets_their_list_without_banned_items_backfilled() {
        let deps = published();
        let (status, body) = get(&deps, "/recommendations/spring/u1?n=4").await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body["source"], "personalized");
        assert_eq!(body["version"], V);
        assert_eq!(
            item_ids(&body),
            ["a", "b", "g1", "g3"],
            "ng and g2 are banned, a is not repeated"
        );
        assert_eq!(body["backfilled"], 2);
        assert_eq!(body["items"][0], json!({"item_id": "a", "score": 1.0}));
        assert_eq!(*deps.lists.get_calls.lock().unwrap(), 2, "pointer + one batch");
    }

    #[tokio::test]
    async fn a_new_user_with_attributes_gets_their_most_specific_segment() {
        let deps = published();
        let (_, tokyo) = get(
            &deps,
            "/recommendations/spring/new-1?gender=f&age=27&region=Tokyo",
        )
        .await;
        assert_eq!(tokyo["source"], "segment");
        assert_eq!(tokyo["segment"], "AGE=20-29|GENDER=F|REGION=tokyo");
        assert_eq!(item_ids(&tokyo), ["t1", "t2", "t3"]);
        let (_, women) = get(&deps, "/recommendations/spring/new-1?gender=F&region=osaka").await;
        assert_eq!(
            item_ids(&women),
            ["f1", "f2", "g1"],
            "a broader segment, backfilled"
        );
        assert_eq!(women["backfilled"], 1);
    }

    #[tokio::test]
    async fn a_user_known_from_the_users_data_gets_their_segment_in_a_second_round_trip() {
        let deps = published();
        let (_, body) = get(&deps, "/recommendations/spring/known-new?n=2").await;
        assert_eq!(body["source"], "segment");
        assert_eq!(body["segment"], "GENDER=M");
        assert_eq!(item_ids(&body), ["m1", "m2"]);
        assert_eq!(*deps.lists.get_calls.lock().unwrap(), 3, "pointer + two batches");
    }

    #[tokio::test]
    async fn a_stranger_gets_the_global_list() {
        let deps = published();
        let (_, body) = get(&deps, "/recommendations/spring/stranger").await;
        assert_eq!(body["source"], "global");
        assert_eq!(
            item_ids(&body),
            ["g1", "a", "g3"],
            "n defaults to the job's num_results"
        );
        // The pointer is cached: a second request reads only the lists.
        get(&deps, "/recommendations/spring/stranger").await;
        assert_eq!(*deps.lists.get_calls.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn bad_requests_are_400_naming_the_parameter_and_unknown_sets_404() {
        let deps = published();
        for (path, name) in [
            ("/recommendations/spring/u1?n=0", "n"),
            ("/recommendations/spring/u1?n=501", "n"),
            ("/recommendations/spring/u1?n=ten", "n"),
            ("/recommendations/spring/u1?age=-3", "age"),
            ("/recommendations/spring/u1?colour=red", "colour"),
            ("/recommendations/spring/u1?n=1&n=2", "n"),
            ("/recommendations/spring/u%01x", "user_id"),
            ("/recommendations/spring/u%250Ax", "user_id"),
            ("/recommendations/spring/u%25FFx", "user_id"),
        ] {
            // What the handler sees: %01 a control character, %25 a literal percent sign.
            let path = path.replace("%01", "\u{1}").replace("%25", "%");
            let (status, body) = get(&deps, &path).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(body["error"]["code"], "InvalidParameter");
            assert!(
                body["error"]["message"].as_str().unwrap().starts_with(name),
                "{body}"
            );
        }
        let long = format!("/recommendations/spring/{}", "x".repeat(300));
        assert_eq!(get(&deps, &long).await.0, StatusCode::BAD_REQUEST);
        for unknown in ["/recommendations/autumn/u1", "/recommendations/../u1"] {
            let (status, body) = get(&deps, unknown).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
            assert_eq!(body["error"]["code"], "ResultSetNotFound");
        }
    }
}
