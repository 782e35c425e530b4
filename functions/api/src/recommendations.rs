//! `GET /recommendations/{result_set}/{user_id}?n=10&gender=F&age=27&region=tokyo`
//!
//! The user's own list when the job scored them (`personalized`); else the most popular items
//! of their segment (attributes from the query string, else from the job's users data:
//! `segment`); else the result set's most popular items (`global`). The attributes a query may
//! give are the dimensions of the served version's segments (its pointer's
//! `segment_dimensions`: by default gender, age and region), named in any case, their values
//! NFC-normalised. A personalized list
//! shorter than `n` once banned items are removed is backfilled from the fallback.
//!
//! Cost: the result set's pointer (cached, see `pointer_cache`), then one BatchGetItem for the
//! user's list, their stored attributes, the global list, the banned items and the segments of
//! the query's attributes; a second one only when a segment from stored attributes is needed.

use std::collections::{HashMap, HashSet};

use lambda_http::http::StatusCode;
use lambda_http::{Body, Response};
use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, Attributes, Pointer, StoredList, MAX_LIST_ITEMS, MAX_USER_ID_CHARS};
use recoflow_core::errors::ServiceError;
use recoflow_core::form::Output;
use recoflow_core::ports::RecommendationStore;
use serde::Serialize;

use crate::call::Call;
use crate::output_pointer::pointer_holding;
use crate::ports::{ApiPorts, MetricLog};
use crate::recommendation_query::{parse_query, plain_text, query_attributes};
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::{is_result_set_name, result_set_not_found};
use crate::serving_metrics::{emf_line, AnswerMetrics, Served};

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
    /// Seconds since the version was first made current.
    version_age_seconds: u64,
}

/// A user id is plain text as given and, should a gateway pass the path undecoded (LocalStack
/// does; API Gateway decodes it), once percent-decoded too, so `%0A` cannot smuggle a newline.
pub(crate) fn valid_user_id(user_id: &str) -> bool {
    plain_text(user_id, MAX_USER_ID_CHARS)
        && match percent_encoding::percent_decode_str(user_id).decode_utf8() {
            Ok(decoded) => plain_text(&decoded, MAX_USER_ID_CHARS),
            Err(_) => false,
        }
}

/// Builds the answer's list: at most `n` items, none banned, none twice.
pub(crate) struct Picker<'a> {
    n: usize,
    banned: &'a HashSet<String>,
    seen: HashSet<&'a str>,
    pub(crate) chosen: Vec<(&'a str, f64)>,
}

impl<'a> Picker<'a> {
    pub(crate) fn new(n: usize, banned: &'a HashSet<String>) -> Self {
        Self {
            n,
            banned,
            seen: HashSet::new(),
            chosen: Vec::with_capacity(n),
        }
    }

    /// Adds items of `list` until `n`; answers how many it added.
    pub(crate) fn take(&mut self, list: &'a StoredList) -> usize {
        let before = self.chosen.len();
        let scores = list.scores.iter().copied().chain(std::iter::repeat(0.0));
        for (item, score) in list.items.iter().zip(scores) {
            if self.chosen.len() >= self.n {
                break;
            }
            self.add(item, score);
        }
        self.chosen.len() - before
    }

    /// Adds one item unless it is banned, chosen already or the list is full.
    pub(crate) fn add(&mut self, item: &'a str, score: f64) -> bool {
        let added = self.chosen.len() < self.n && !self.banned.contains(item) && self.seen.insert(item);
        if added {
            self.chosen.push((item, score));
        }
        added
    }

    pub(crate) fn is_full(&self) -> bool {
        self.chosen.len() >= self.n
    }
}

/// Answers, then logs the answer's metrics line (its status, source, latency, version age).
pub async fn recommend<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let started = ports.clock().now();
    let result_set = call.path_parameter("result_set");
    let outcome = answer(ports, call).await;
    let (status, served) = match &outcome {
        Ok(answer) => (
            StatusCode::OK,
            Some(Served {
                result_set,
                source: answer.source,
                version_age_seconds: answer.version_age_seconds,
            }),
        ),
        Err(refused) => (refused.code.status(), None),
    };
    ports.metric_log().emit(emf_line(&AnswerMetrics {
        status: status.as_u16(),
        served,
        latency_ms: ports.clock().now().duration_since(started).as_secs_f64() * 1_000.0,
        at_ms: (ports.clock().utc().unix_timestamp_nanos() / 1_000_000) as i64,
    }));
    outcome.map(|answer| answer.response)
}

/// An answer with a list, and what its metrics say of it.
struct Composed {
    response: Response<Body>,
    source: &'static str,
    version_age_seconds: u64,
}

async fn answer<P: ApiPorts>(ports: &P, call: &Call<'_>) -> Result<Composed, ApiError> {
    let result_set = call.path_parameter("result_set");
    let user_id = call.path_parameter("user_id");
    if !is_result_set_name(result_set) {
        return Err(result_set_not_found(result_set));
    }
    if !valid_user_id(user_id) {
        let problem = format!("must be 1 to {MAX_USER_ID_CHARS} characters without control characters");
        return Err(ApiError::invalid_parameter("user_id", &problem));
    }
    let query = parse_query(call.request)?;
    let pointer = pointer_holding(ports, result_set, Output::UserItems).await?;
    let attributes = query_attributes(&query, &pointer.segment_dimensions)?;
    let version_age_seconds = ports.clock().seconds_since(&pointer.published_at);
    let asked = Asked {
        user_id,
        n: query.n,
        attributes,
    };
    let (response, source) = compose(ports.lists(), &pointer, &asked, version_age_seconds)
        .await
        .map_err(ApiError::service)?;
    Ok(Composed {
        response,
        source,
        version_age_seconds,
    })
}

/// Whose list, how long, and the attributes the query gave.
pub(crate) struct Asked<'a> {
    pub(crate) user_id: &'a str,
    pub(crate) n: Option<usize>,
    pub(crate) attributes: Attributes,
}

/// The keys of a user's lists in the pointer's version.
struct UserKeys {
    result_set: String,
    version: String,
    list: String,
    attributes: String,
    global: String,
}

impl UserKeys {
    fn new(pointer: &Pointer, user_id: &str) -> Self {
        let (result_set, version) = (pointer.result_set.as_str(), pointer.version.as_str());
        Self {
            list: keys::user(result_set, version, user_id),
            attributes: keys::attributes(result_set, version, user_id),
            global: keys::global(result_set, version),
            result_set: result_set.to_owned(),
            version: version.to_owned(),
        }
    }

    /// The keys of these attributes' segment lists, the most specific first.
    fn segments(&self, attributes: &Attributes) -> Vec<String> {
        attributes
            .segment_keys()
            .iter()
            .map(|segment| keys::segment(&self.result_set, &self.version, segment))
            .collect()
    }
}

/// The lists an answer is made from.
struct Found {
    lists: HashMap<String, StoredList>,
    banned: HashSet<String>,
    /// Whose segment: the query's attributes, else what the job's users data says.
    attributes: Attributes,
}

/// One batch for the user's list, their stored attributes, the global list, the banned items
/// and the query's segments; a second for the segments of the stored attributes, only when the
/// user's own list cannot fill `n`.
async fn read_lists<R: RecommendationStore>(
    lists: &R,
    pointer: &Pointer,
    keys: &UserKeys,
    asked: &Asked<'_>,
    n: usize,
) -> Result<Found, ServiceError> {
    let mut wanted = vec![
        keys.list.clone(),
        keys.attributes.clone(),
        keys.global.clone(),
        keys::ALWAYS_BANNED.to_owned(),
    ];
    wanted.extend(keys.segments(&asked.attributes));
    let mut found = lists.get_lists(&wanted).await?;
    let banned: HashSet<String> = found
        .get(keys::ALWAYS_BANNED)
        .map(|b| b.items.clone())
        .unwrap_or_default()
        .into_iter()
        .chain(pointer.excluded_items.iter().cloned())
        .collect();
    let mut attributes = asked.attributes.clone();
    if attributes.is_empty() {
        if let Some(stored) = found.get(&keys.attributes).and_then(|a| a.segment.clone()) {
            attributes = pointer.segment_dimensions.from_segment_key(&stored);
        }
    }
    let needs_fallback_segment = !attributes.is_empty()
        && asked.attributes.is_empty()
        && found
            .get(&keys.list)
            .is_none_or(|p| p.items.iter().filter(|i| !banned.contains(*i)).count() < n);
    if needs_fallback_segment {
        found.extend(lists.get_lists(&keys.segments(&attributes)).await?);
    }
    Ok(Found {
        lists: found,
        banned,
        attributes,
    })
}

/// The most specific segment list found for these attributes, with the segment's name.
fn best_segment<'a>(
    found: &'a HashMap<String, StoredList>,
    keys: &UserKeys,
    attributes: &Attributes,
) -> Option<(String, &'a StoredList)> {
    attributes.segment_keys().into_iter().find_map(|segment| {
        found
            .get(&keys::segment(&keys.result_set, &keys.version, &segment))
            .map(|list| (segment, list))
    })
}

/// A user's lists in one version of a result set, read for an answer.
pub(crate) struct UserLists {
    keys: UserKeys,
    found: Found,
}

/// A user's lists in the order an answer takes them: their own (the personal list, else their
/// segment's, else the global one), then the fallbacks that top it up.
pub(crate) struct Ranked<'a> {
    pub(crate) source: &'static str,
    /// The segment whose list is the user's own (`source` is `segment`).
    pub(crate) segment: Option<String>,
    pub(crate) own: Option<&'a StoredList>,
    pub(crate) fallbacks: Vec<&'a StoredList>,
}

/// Reads the user's lists in the pointer's version (see `read_lists`).
pub(crate) async fn user_lists<R: RecommendationStore>(
    lists: &R,
    pointer: &Pointer,
    asked: &Asked<'_>,
    n: usize,
) -> Result<UserLists, ServiceError> {
    let keys = UserKeys::new(pointer, asked.user_id);
    let found = read_lists(lists, pointer, &keys, asked, n).await?;
    Ok(UserLists { keys, found })
}

impl UserLists {
    /// Items never served from this version: the operator's and the version's banned items.
    pub(crate) fn banned(&self) -> &HashSet<String> {
        &self.found.banned
    }

    /// Whether the version scored the user (a list of their own).
    pub(crate) fn has_personal_list(&self) -> bool {
        self.found.lists.contains_key(&self.keys.list)
    }

    pub(crate) fn ranked(&self) -> Ranked<'_> {
        let personal = self.found.lists.get(&self.keys.list);
        let segment = best_segment(&self.found.lists, &self.keys, &self.found.attributes);
        let global = self.found.lists.get(&self.keys.global);
        match (personal, segment) {
            (Some(list), segment) => Ranked {
                source: "personalized",
                segment: None,
                own: Some(list),
                fallbacks: segment.map(|(_, l)| l).into_iter().chain(global).collect(),
            },
            (None, Some((name, list))) => Ranked {
                source: "segment",
                segment: Some(name),
                own: Some(list),
                fallbacks: global.into_iter().collect(),
            },
            (None, None) => Ranked {
                source: "global",
                segment: None,
                own: global,
                fallbacks: Vec::new(),
            },
        }
    }
}

/// The answer and its list's source.
async fn compose<R: RecommendationStore>(
    lists: &R,
    pointer: &Pointer,
    asked: &Asked<'_>,
    version_age_seconds: u64,
) -> Result<(Response<Body>, &'static str), ServiceError> {
    let n = asked
        .n
        .unwrap_or(pointer.num_results as usize)
        .clamp(1, MAX_LIST_ITEMS);
    let found = user_lists(lists, pointer, asked, n).await?;
    let ranked = found.ranked();
    let mut picked = Picker::new(n, found.banned());
    if let Some(own) = ranked.own {
        picked.take(own);
    }
    let backfilled = ranked.fallbacks.iter().map(|list| picked.take(list)).sum();
    let answer = Answer {
        result_set: &pointer.result_set,
        user_id: asked.user_id,
        version: &pointer.version,
        source: ranked.source,
        segment: ranked.segment.as_deref(),
        items: picked
            .chosen
            .iter()
            .map(|(item_id, score)| Recommended {
                item_id,
                score: *score,
            })
            .collect(),
        backfilled,
        version_age_seconds,
    };
    Ok((json_response(StatusCode::OK, &answer), ranked.source))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::job::JobId;
    use serde_json::{json, Value};

    use recoflow_core::delivery::SegmentDimensions;

    use super::*;
    use crate::fake::*;

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

    fn published() -> FakeApiPorts {
        let ports = FakeApiPorts::default();
        let mut lists = ports.lists.lists.lock().unwrap();
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
        ports.lists.pointers.lock().unwrap().insert(
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
                segment_dimensions: SegmentDimensions::default(),
                output: Default::default(),
            },
        );
        ports
    }

    async fn get(ports: &FakeApiPorts, path_and_query: &str) -> (StatusCode, Value) {
        let request = gateway_request(
            "GET",
            "/recommendations/{result_set}/{user_id}",
            path_and_query,
            "",
            &[],
        );
        let response = recommend(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response());
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
        let ports = published();
        let (status, body) = get(&ports, "/recommendations/spring/u1?n=4").await;
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
        assert_eq!(*ports.lists.get_calls.lock().unwrap(), 2, "pointer + one batch");
    }

    #[tokio::test]
    async fn a_new_user_with_attributes_gets_their_most_specific_segment() {
        let ports = published();
        let (_, tokyo) = get(
            &ports,
            "/recommendations/spring/new-1?GENDER=f&Age=27&region=Tokyo",
        )
        .await;
        assert_eq!(tokyo["source"], "segment");
        assert_eq!(tokyo["segment"], "AGE=20-29|GENDER=F|REGION=tokyo");
        assert_eq!(item_ids(&tokyo), ["t1", "t2", "t3"]);
        let (_, women) = get(&ports, "/recommendations/spring/new-1?gender=F&region=osaka").await;
        assert_eq!(
            item_ids(&women),
            ["f1", "f2", "g1"],
            "a broader segment, backfilled"
        );
        assert_eq!(women["backfilled"], 1);
    }

    #[tokio::test]
    async fn a_user_known_from_the_users_data_gets_their_segment_in_a_second_round_trip() {
        let ports = published();
        let (_, body) = get(&ports, "/recommendations/spring/known-new?n=2").await;
        assert_eq!(body["source"], "segment");
        assert_eq!(body["segment"], "GENDER=M");
        assert_eq!(item_ids(&body), ["m1", "m2"]);
        assert_eq!(*ports.lists.get_calls.lock().unwrap(), 3, "pointer + two batches");
    }

    #[tokio::test]
    async fn a_stranger_gets_the_global_list() {
        let ports = published();
        let (_, body) = get(&ports, "/recommendations/spring/stranger").await;
        assert_eq!(body["source"], "global");
        assert_eq!(
            item_ids(&body),
            ["g1", "a", "g3"],
            "n defaults to the job's num_results"
        );
        // The pointer is cached: a second request reads only the lists.
        get(&ports, "/recommendations/spring/stranger").await;
        assert_eq!(*ports.lists.get_calls.lock().unwrap(), 3);
    }

    #[tokio::test]
    async fn bad_requests_are_400_naming_the_parameter_and_unknown_sets_404() {
        let ports = published();
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
            let (status, body) = get(&ports, &path).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
            assert_eq!(body["error"]["code"], "InvalidParameter");
            assert!(
                body["error"]["message"].as_str().unwrap().starts_with(name),
                "{body}"
            );
        }
        let long = format!("/recommendations/spring/{}", "x".repeat(300));
        assert_eq!(get(&ports, &long).await.0, StatusCode::BAD_REQUEST);
        for unknown in ["/recommendations/autumn/u1", "/recommendations/../u1"] {
            let (status, body) = get(&ports, unknown).await;
            assert_eq!(status, StatusCode::NOT_FOUND, "{unknown}");
            assert_eq!(body["error"]["code"], "ResultSetNotFound");
        }
    }

    /// A version whose segments are kept for PREFECTURE, MEMBER_RANK and POINTS (banded).
    fn published_by_prefecture() -> FakeApiPorts {
        let ports = published();
        let dimensions: recoflow_core::form::Fallback = serde_json::from_value(json!({
            "attributes": ["PREFECTURE", "MEMBER_RANK", "POINTS"], "bands": {"POINTS": [100, 500]}
        }))
        .unwrap();
        let mut form = recoflow_core::fakes::test_form("container");
        form.fallback = Some(dimensions);
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .get_mut("spring")
            .unwrap()
            .segment_dimensions = SegmentDimensions::of(&form);
        let mut lists = ports.lists.lists.lock().unwrap();
        for list in [
            stored(
                keys::segment("spring", V, "MEMBER_RANK=gold|PREFECTURE=東京都"),
                &["gold-tokyo"],
            ),
            stored(keys::segment("spring", V, "PREFECTURE=東京都"), &["tokyo"]),
            stored(keys::segment("spring", V, "POINTS=500+"), &["big-spender"]),
            StoredList {
                segment: Some("MEMBER_RANK=gold|POINTS=100-499|PREFECTURE=東京都".into()),
                ..stored(keys::attributes("spring", V, "member-7"), &[])
            },
        ] {
            lists.insert(list.pk.clone(), list);
        }
        drop(lists);
        ports
    }

    #[tokio::test]
    async fn a_version_s_own_dimensions_are_its_query_parameters() {
        let ports = published_by_prefecture();
        // 都 as the compatibility ideograph U+FA26, percent-decoded as API Gateway hands it.
        let (status, body) = get(
            &ports,
            "/recommendations/spring/new-1?Prefecture=東京\u{FA26}&member_rank=gold&POINTS=120&n=1",
        )
        .await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["source"], "segment");
        assert_eq!(
            body["segment"], "MEMBER_RANK=gold|PREFECTURE=東京都",
            "the most specific segment with a list, PREFECTURE kept longest"
        );
        assert_eq!(item_ids(&body), ["gold-tokyo"]);
        let (_, spender) = get(&ports, "/recommendations/spring/new-2?points=900&n=1").await;
        assert_eq!(spender["segment"], "POINTS=500+");
        let (_, member) = get(&ports, "/recommendations/spring/member-7?n=1").await;
        assert_eq!(
            (&member["source"], &member["segment"]),
            (&json!("segment"), &json!("MEMBER_RANK=gold|PREFECTURE=東京都")),
            "a user of the users file gets the segment stored for them"
        );
        for (query, name) in [
            ("gender=F", "gender"),
            ("points=lots", "points"),
            ("prefecture=a&PREFECTURE=b", "PREFECTURE"),
        ] {
            let (status, body) = get(&ports, &format!("/recommendations/spring/new-1?{query}")).await;
            assert_eq!(status, StatusCode::BAD_REQUEST, "{query}");
            let message = body["error"]["message"].as_str().unwrap();
            // The query's parameters come in no set order: either spelling may be named first.
            let named = message.split(':').next().unwrap();
            assert!(named.eq_ignore_ascii_case(name), "{query}: {message}");
        }
        let (_, unknown) = get(&ports, "/recommendations/spring/new-1?gender=F").await;
        assert!(
            unknown["error"]["message"]
                .as_str()
                .unwrap()
                .contains("takes n, member_rank, points, prefecture"),
            "{unknown}"
        );
    }

    #[tokio::test]
    async fn the_default_dimensions_are_the_parameters_of_older_versions() {
        let ports = published();
        let (status, body) = get(&ports, "/recommendations/spring/new-1?prefecture=x").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(
            body["error"]["message"]
                .as_str()
                .unwrap()
                .contains("takes n, age, gender, region"),
            "{body}"
        );
    }

    #[tokio::test]
    async fn each_answer_says_its_version_s_age_and_logs_one_metrics_line() {
        let ports = published();
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .get_mut("spring")
            .unwrap()
            .published_at = recoflow_core::clock::rfc3339(ports.clock.utc() - time::Duration::seconds(90));
        let (_, body) = get(&ports, "/recommendations/spring/stranger").await;
        assert_eq!(body["version_age_seconds"], 90);
        get(&ports, "/recommendations/spring/u1?n=0").await;
        get(&ports, "/recommendations/autumn/u1").await;

        let lines = ports.metric_log.documents();
        assert_eq!(lines.len(), 3, "one line per answer, errors too");
        let answered = &lines[0];
        assert_eq!(
            (&answered["ResultSet"], &answered["Source"], &answered["Status"]),
            (&json!("spring"), &json!("global"), &json!("200"))
        );
        assert_eq!(
            (&answered["Answers"], &answered["VersionAgeSeconds"]),
            (&json!(1), &json!(90))
        );
        assert!(answered["LatencyMs"].as_f64().is_some());
        let statuses: Vec<&str> = lines.iter().map(|l| l["Status"].as_str().unwrap()).collect();
        assert_eq!(statuses, ["200", "400", "404"]);
        assert!(
            lines[2].get("ResultSet").is_none(),
            "an unknown name is no dimension"
        );
    }

    #[tokio::test]
    async fn an_expired_version_is_410_once_its_time_is_past() {
        let ports = published();
        let expires_at = ports.clock.unix_now() + 60;
        ports
            .lists
            .pointers
            .lock()
            .unwrap()
            .get_mut("spring")
            .unwrap()
            .expires_at = expires_at;
        assert_eq!(get(&ports, "/recommendations/spring/u1").await.0, StatusCode::OK);
        ports.clock.advance(Duration::from_secs(61));
        let (status, body) = get(&ports, "/recommendations/spring/u1").await;
        assert_eq!(status, StatusCode::GONE);
        assert_eq!(body["error"]["code"], "ResultSetExpired");
    }
}
