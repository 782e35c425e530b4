//! `POST /events`: what apps saw happen to placements' answers. Each event is checked on its
//! own (a malformed one is refused naming its field, the rest go on), its recommendation_id
//! verified (a forged one, or another deployment's, is refused), its event_id claimed (seen
//! before: accepted, not counted again), and the new ones are written to the raw-event stream
//! and added to the aggregates: `202` with one result per event.
//!
//! Order, so a failure loses nothing and counts nothing twice: claims, raw events, interleaved
//! credits, aggregates. Should a later step fail, the credits are taken back and the claims
//! released, and the request is answered `503`: the client sends it again (the raw stream may
//! then hold an event twice, with its event_id; the aggregates never count it twice).

use std::collections::{BTreeMap, HashSet};
use std::time::Duration;

use lambda_http::http::StatusCode;
use lambda_http::RequestExt;
use recoflow_core::clock::Clock;
use recoflow_core::errors::ServiceError;
use recoflow_core::events::aggregates::{AggregateKey, Counts, Deltas};
use recoflow_core::events::attribution::{attribute, Attributed};
use recoflow_core::events::intake::{
    parse_batch, BatchRefusal, Event, EventProblem, MAX_EVENTS, MAX_EVENTS_BYTES,
};
use recoflow_core::placement::interleaving::win_changes;
use recoflow_core::placement::recommendation_id::{
    verify, IdRefusal, RecommendationClaims, CLOCK_SKEW_SECONDS, MAX_RECOMMENDATION_AGE_SECONDS,
};
use recoflow_core::ports::{AggregateStore, EventLedger, RawEventSink, SigningKeys};
use serde::Serialize;

use crate::call::Call;
use crate::experiment_ports::ExperimentPorts;
use crate::ports::ApiPorts;
use crate::response::{json_response, ApiError, ErrorCode, RouteResult};

/// An event id's claim is kept one day longer than events are accepted for (7 days): a
/// duplicate can come no later.
const CLAIM_SECONDS: i64 = MAX_RECOMMENDATION_AGE_SECONDS + 86_400;

#[derive(Debug, Serialize)]
struct EventResult<'a> {
    index: usize,
    #[serde(skip_serializing_if = "Option::is_none")]
    event_id: Option<&'a str>,
    /// `accepted`, `duplicate` or `refused`.
    status: &'static str,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    problems: Vec<EventProblem>,
}

#[derive(Serialize)]
struct Answer<'a> {
    accepted: usize,
    duplicates: usize,
    refused: usize,
    results: Vec<EventResult<'a>>,
}

/// A checked event whose recommendation_id verified.
struct Verified {
    index: usize,
    event: Event,
    claims: RecommendationClaims,
}

pub async fn post_events<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let now = ports.clock().utc();
    let parsed = parse_batch(call.body(), now).map_err(refusal)?;
    let mut results: Vec<EventResult<'_>> = Vec::with_capacity(parsed.len());
    let mut verified = Vec::with_capacity(parsed.len());
    let mut ring = ports
        .experiments()
        .keys()
        .ring(false)
        .await
        .map_err(ApiError::service)?;
    let mut refreshed = false;
    for (index, outcome) in parsed.into_iter().enumerate() {
        let checked = match outcome {
            Ok(event) => {
                let mut claims = verify(&event.recommendation_id, &ring, now.unix_timestamp());
                if claims == Err(IdRefusal::UnknownKey) && !refreshed {
                    // Signed by a key another instance already uses: look at the secret again.
                    ring = ports
                        .experiments()
                        .keys()
                        .ring(true)
                        .await
                        .map_err(ApiError::service)?;
                    refreshed = true;
                    claims = verify(&event.recommendation_id, &ring, now.unix_timestamp());
                }
                claims
                    .map_err(id_problem)
                    .and_then(|claims| checked_against(event, claims))
            }
            Err(problems) => Err(problems),
        };
        match checked {
            Ok((event, claims)) => verified.push(Verified { index, event, claims }),
            Err(problems) => results.push(EventResult {
                index,
                event_id: None,
                status: "refused",
                problems,
            }),
        }
    }
    let counted = count(ports, call, &verified, now.unix_timestamp()).await?;
    for (item, new) in verified.iter().zip(&counted) {
        results.push(EventResult {
            index: item.index,
            event_id: Some(&item.event.event_id),
            status: if *new { "accepted" } else { "duplicate" },
            problems: Vec::new(),
        });
    }
    results.sort_by_key(|r| r.index);
    let status_count = |status| results.iter().filter(|r| r.status == status).count();
    let answer = Answer {
        accepted: status_count("accepted"),
        duplicates: status_count("duplicate"),
        refused: status_count("refused"),
        results,
    };
    Ok(json_response(StatusCode::ACCEPTED, &answer))
}

/// An event cannot precede the answer it is about.
fn checked_against(
    event: Event,
    claims: RecommendationClaims,
) -> Result<(Event, RecommendationClaims), Vec<EventProblem>> {
    if event.at.unix_timestamp() < claims.issued_at - CLOCK_SKEW_SECONDS {
        return Err(vec![EventProblem::new(
            "timestamp",
            "before_recommendation",
            format!("timestamp {} is before the answer was served", event.timestamp),
        )]);
    }
    Ok((event, claims))
}

fn id_problem(refusal: IdRefusal) -> Vec<EventProblem> {
    let (code, message) = refusal.problem();
    vec![EventProblem::new("recommendation_id", code, message)]
}

fn refusal(refused: BatchRefusal) -> ApiError {
    match refused {
        BatchRefusal::TooLarge { bytes } => ApiError::new(
            ErrorCode::EventsTooLarge,
            format!(
                "the request is {} KiB; at most {} KiB (1 MiB) of events are taken at once: split it",
                bytes.div_ceil(1024),
                MAX_EVENTS_BYTES / 1024
            ),
        ),
        BatchRefusal::TooMany { events } => ApiError::new(
            ErrorCode::TooManyEvents,
            format!("the request holds {events} events; at most {MAX_EVENTS} are taken at once: split it"),
        ),
        BatchRefusal::Malformed(why) => ApiError::new(ErrorCode::InvalidEvents, why),
    }
}

/// Claims the events' ids and counts the new ones; per event, whether it was new. An id twice
/// in one request is the first one's duplicate.
async fn count<P: ApiPorts>(
    ports: &P,
    call: &Call<'_>,
    verified: &[Verified],
    now: i64,
) -> Result<Vec<bool>, ApiError> {
    let mut first_seen = HashSet::new();
    let firsts: Vec<bool> = verified
        .iter()
        .map(|v| first_seen.insert(v.event.event_id.as_str()))
        .collect();
    let ids: Vec<&str> = verified
        .iter()
        .zip(&firsts)
        .filter(|(_, first)| **first)
        .map(|(v, _)| v.event.event_id.as_str())
        .collect();
    let experiments = ports.experiments();
    let claimed = experiments
        .ledger()
        .claim(&ids, now + CLAIM_SECONDS)
        .await
        .map_err(ApiError::service)?;
    let mut claimed = claimed.into_iter();
    let new: Vec<bool> = firsts
        .iter()
        .map(|first| *first && claimed.next().unwrap_or(false))
        .collect();
    let fresh: Vec<&Verified> = verified
        .iter()
        .zip(&new)
        .filter(|(_, n)| **n)
        .map(|(v, _)| v)
        .collect();
    // An invocation stopped at its timeout after the claims would leave them claimed and never
    // counted (and the client's retry told "duplicate"): claims that took so long the rest may
    // not finish are given back before anything is recorded, and the client sends again.
    let outcome = match time_left(call, ports) {
        Some(left) if left < TIME_TO_RECORD => Err(format!(
            "the events' ids were claimed with {} ms of the invocation left: given back, not counted",
            left.as_millis()
        )),
        _ => record(ports, &fresh, now).await.map_err(|e| e.to_string()),
    };
    if let Err(err) = outcome {
        let mine: Vec<&str> = fresh.iter().map(|v| v.event.event_id.as_str()).collect();
        let _ = experiments.ledger().release(&mine).await;
        return Err(ApiError::service(err));
    }
    Ok(new)
}

/// What an invocation must still have once the events' ids are claimed: recording them takes
/// a few calls, and giving the claims back if that fails a few more.
const TIME_TO_RECORD: Duration = Duration::from_secs(10);

/// Time until the invocation's deadline (`None`: not known, as outside Lambda).
fn time_left<P: ApiPorts>(call: &Call<'_>, ports: &P) -> Option<Duration> {
    let deadline_ms = call.request.lambda_context_ref()?.deadline;
    if deadline_ms == 0 {
        return None;
    }
    let now_ms = ports.clock().utc().unix_timestamp_nanos() / 1_000_000;
    let left = u64::try_from(i128::from(deadline_ms) - now_ms).unwrap_or(0);
    Some(Duration::from_millis(left))
}

/// Raw events, then interleaved credits, then aggregates; credits are taken back if the
/// aggregates fail.
async fn record<P: ApiPorts>(ports: &P, fresh: &[&Verified], now: i64) -> Result<(), ServiceError> {
    if fresh.is_empty() {
        return Ok(());
    }
    let experiments = ports.experiments();
    let attributed: Vec<Attributed> = fresh.iter().map(|v| attribute(&v.event, &v.claims)).collect();
    let received_at = ports.clock().rfc3339_now();
    let records = fresh
        .iter()
        .zip(&attributed)
        .map(|(v, a)| raw_record(v, a, &received_at))
        .collect();
    experiments.raw_events().put(records).await?;

    let mut deltas = Deltas::default();
    for (key, counts) in attributed.iter().flat_map(|a| a.rows.iter().cloned()) {
        deltas.add(key, counts);
    }
    let credits = credits_by_impression(fresh, &attributed);
    let mut taken = Vec::with_capacity(credits.len());
    for (impression, (add, keys)) in &credits {
        let after = match experiments
            .ledger()
            .credit(impression, *add, now + CLAIM_SECONDS)
            .await
        {
            Ok(after) => after,
            Err(err) => {
                undo_credits(ports, &taken, now).await;
                return Err(err);
            }
        };
        taken.push((impression.clone(), *add));
        let before = [after[0] - add[0], after[1] - add[1]];
        for (team, change) in win_changes(before, after).into_iter().enumerate() {
            if change != 0 {
                let wins = Counts {
                    wins: change,
                    ..Counts::default()
                };
                deltas.add(keys[team].clone(), wins);
            }
        }
    }
    if let Err(err) = experiments.aggregates().add(&deltas.into_rows()).await {
        undo_credits(ports, &taken, now).await;
        return Err(err);
    }
    Ok(())
}

/// Per interleaved impression: the credits this request adds per team, and each team's key.
fn credits_by_impression(
    fresh: &[&Verified],
    attributed: &[Attributed],
) -> BTreeMap<String, ([i64; 2], [AggregateKey; 2])> {
    let mut credits = BTreeMap::new();
    for (verified, attributed) in fresh.iter().zip(attributed) {
        let Some((impression, team)) = &attributed.credit else {
            continue;
        };
        let claims = &verified.claims;
        let key = |arm: usize| AggregateKey {
            placement: claims.placement.clone(),
            day: verified.event.at.to_offset(time::UtcOffset::UTC).date(),
            arm: claims.arms[arm].name.clone(),
            version: claims.arms[arm].version.clone(),
        };
        let entry = credits
            .entry(impression.clone())
            .or_insert_with(|| ([0i64; 2], [key(0), key(1)]));
        entry.0[*team] += 1;
    }
    credits
}

async fn undo_credits<P: ApiPorts>(ports: &P, taken: &[(String, [i64; 2])], now: i64) {
    for (impression, add) in taken {
        let _ = ports
            .experiments()
            .ledger()
            .credit(impression, [-add[0], -add[1]], now + CLAIM_SECONDS)
            .await;
    }
}

/// The event as analysts read it: what the app sent, and what its recommendation_id said.
fn raw_record(verified: &Verified, attributed: &Attributed, received_at: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct ArmServed<'a> {
        arm: &'a str,
        version: &'a str,
    }
    #[derive(Serialize)]
    struct Raw<'a> {
        #[serde(flatten)]
        event: &'a Event,
        placement: &'a str,
        arms: Vec<ArmServed<'a>>,
        source: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        team: Option<&'a str>,
        received_at: &'a str,
    }
    let raw = Raw {
        event: &verified.event,
        placement: &verified.claims.placement,
        arms: verified
            .claims
            .arms
            .iter()
            .map(|a| ArmServed {
                arm: &a.name,
                version: &a.version,
            })
            .collect(),
        source: &verified.claims.source,
        team: attributed.team.as_deref(),
        received_at,
    };
    let mut line = serde_json::to_vec(&raw).expect("an event has string keys only");
    line.push(b'\n');
    line
}

#[cfg(test)]
mod tests {
    use serde_json::{json, Value};

    use super::*;
    use crate::experiment_ports::fixtures::{place, publish};
    use crate::fake::*;

    fn ports_with(document: Value) -> FakeApiPorts {
        let ports = FakeApiPorts::default();
        publish(&ports, "spring", "v1", &[("u1", &["s1", "s2", "s3"])], &["s-top"]);
        publish(&ports, "autumn", "v9", &[("u1", &["a1", "a2", "a3"])], &["a-top"]);
        place(&ports, &document);
        ports
    }

    fn ab() -> Value {
        json!({"schema_version": 1, "placement": "home-top", "n": 3,
               "experiment": {"type": "ab", "salt": "s", "arms": [
                   {"name": "control", "result_set": "spring", "weight": 0},
                   {"name": "candidate", "result_set": "autumn", "weight": 1}]}})
    }

    async fn served(ports: &FakeApiPorts, placement: &str) -> Value {
        let path = format!("/placements/{placement}/u1");
        let request = gateway_request("GET", "/placements/{placement}/{user_id}", &path, "", &[]);
        let response = crate::placement_serve::serve_placement(ports, &signed_call(&request))
            .await
            .unwrap();
        json_body(&response)
    }

    /// The recommendation_id of u1's answer on home-top.
    async fn home_top_id(ports: &FakeApiPorts) -> String {
        served(ports, "home-top").await["recommendation_id"]
            .as_str()
            .unwrap()
            .to_owned()
    }

    fn event(id: &str, event_type: &str, recommendation_id: &str, item: &str) -> Value {
        let mut event = json!({"event_id": id, "type": event_type, "recommendation_id": recommendation_id,
                               "user_id": "u1", "timestamp": now_text()});
        if !item.is_empty() {
            event["item_id"] = json!(item);
        }
        event
    }

    fn now_text() -> String {
        // FakeClock starts at the real time: the events are "now".
        recoflow_core::clock::rfc3339(time::OffsetDateTime::now_utc())
    }

    fn events_request(events: Vec<Value>) -> lambda_http::Request {
        let body = json!({ "events": events }).to_string();
        gateway_request("POST", "/events", "/events", &body, &[])
    }

    async fn post(ports: &FakeApiPorts, events: Vec<Value>) -> (StatusCode, Value) {
        let request = events_request(events);
        let response = post_events(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response());
        (response.status(), json_body(&response))
    }

    #[tokio::test]
    async fn events_count_once_for_their_arm_and_go_to_the_raw_stream() {
        let ports = ports_with(ab());
        let id = home_top_id(&ports).await;
        let mut purchase = event("e3", "purchase", &id, "a2");
        purchase["value"] = json!(12.5);
        let (status, body) = post(
            &ports,
            vec![
                event("e1", "impression", &id, ""),
                event("e2", "click", &id, "a2"),
                purchase,
                event("e2", "click", &id, "a2"),
            ],
        )
        .await;
        assert_eq!(status, StatusCode::ACCEPTED, "{body}");
        assert_eq!(
            (
                body["accepted"].clone(),
                body["duplicates"].clone(),
                body["refused"].clone()
            ),
            (json!(3), json!(1), json!(0))
        );
        assert_eq!(
            body["results"][3],
            json!({"index": 3, "event_id": "e2", "status": "duplicate"})
        );
        let (_, again) = post(&ports, vec![event("e1", "impression", &id, "")]).await;
        assert_eq!(
            again["results"][0]["status"], "duplicate",
            "seen in an earlier request"
        );
        let rows = ports.experiments.aggregates.rows();
        assert_eq!(rows.len(), 1);
        let (key, counts) = (&rows[0].key, rows[0].counts);
        assert_eq!((key.arm.as_str(), key.version.as_str()), ("candidate", "v9"));
        assert_eq!(
            (
                counts.impressions,
                counts.clicks,
                counts.purchases,
                counts.revenue,
                counts.revenue_sq
            ),
            (1, 1, 1, 12.5, 156.25)
        );
        let raw = ports.experiments.raw_events.lines();
        let ids: Vec<&str> = raw.iter().map(|r| r["event_id"].as_str().unwrap()).collect();
        assert_eq!(ids, ["e1", "e2", "e3"], "the accepted events, once each");
        assert_eq!(raw[2]["value"], 12.5);
        assert_eq!(raw[2]["arms"], json!([{"arm": "candidate", "version": "v9"}]));
        assert_eq!(raw[2]["placement"], "home-top");
    }

    #[tokio::test]
    async fn malformed_forged_and_foreign_events_are_refused_by_field() {
        let ports = ports_with(ab());
        let id = home_top_id(&ports).await;
        let foreign = recoflow_core::placement::recommendation_id::sign(
            &recoflow_core::placement::recommendation_id::verify(
                &id,
                &ports.experiments.keys.ring.lock().unwrap(),
                ports.clock.unix_now(),
            )
            .unwrap(),
            &recoflow_core::placement::recommendation_id::KeyRing {
                current: recoflow_core::placement::recommendation_id::SigningKey::new(
                    b"another deployment".to_vec(),
                ),
                previous: None,
            },
        );
        let mut forged = id.clone();
        forged.replace_range(10..12, "zz");
        let (status, body) = post(&ports, vec![
            event("ok", "click", &id, "a1"),
            json!({"event_id": "bad", "type": "click", "recommendation_id": id, "user_id": "u1", "timestamp": "nope"}),
            event("foreign", "click", &foreign, "a1"),
            event("forged", "click", &forged, "a1"),
        ]).await;
        assert_eq!(status, StatusCode::ACCEPTED);
        assert_eq!(
            (body["accepted"].clone(), body["refused"].clone()),
            (json!(1), json!(3))
        );
        let problems = |i: usize| -> Vec<(String, String)> {
            body["results"][i]["problems"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| {
                    (
                        p["field"].as_str().unwrap().to_owned(),
                        p["code"].as_str().unwrap().to_owned(),
                    )
                })
                .collect()
        };
        assert_eq!(
            problems(1),
            [
                ("item_id".to_owned(), "missing_field".to_owned()),
                ("timestamp".to_owned(), "invalid_timestamp".to_owned())
            ]
        );
        assert_eq!(
            problems(2),
            [(
                "recommendation_id".to_owned(),
                "invalid_recommendation_id".to_owned()
            )]
        );
        assert_eq!(
            problems(3),
            [(
                "recommendation_id".to_owned(),
                "invalid_recommendation_id".to_owned()
            )]
        );
        assert_eq!(ports.experiments.raw_events.lines().len(), 1);
        assert_eq!(
            *ports.experiments.keys.reads.lock().unwrap(),
            1,
            "an unknown key is looked up once per request"
        );
    }

    #[tokio::test]
    async fn a_failed_write_counts_nothing_and_the_retry_counts_once() {
        let ports = ports_with(ab());
        let id = home_top_id(&ports).await;
        *ports.experiments.aggregates.failing.lock().unwrap() = 1;
        let (status, body) = post(&ports, vec![event("e1", "impression", &id, "")]).await;
        assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE, "{body}");
        assert!(
            ports.experiments.ledger.claims.lock().unwrap().is_empty(),
            "the claim was given back"
        );
        let (_, body) = post(&ports, vec![event("e1", "impression", &id, "")]).await;
        assert_eq!(body["accepted"], 1);
        assert_eq!(ports.experiments.aggregates.rows()[0].counts.impressions, 1);
    }

    #[tokio::test]
    async fn claims_made_too_late_in_the_invocation_are_given_back_and_the_retry_counts_once() {
        let ports = ports_with(ab());
        let id = home_top_id(&ports).await;
        let post_with = |seconds_left: u64| {
            let mut context = lambda_http::Context::default();
            let now_ms = time::OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000;
            context.deadline = u64::try_from(now_ms).unwrap() + seconds_left * 1_000;
            events_request(vec![event("e1", "impression", &id, "")]).with_lambda_context(context)
        };
        let late = post_with(3);
        let answer = post_events(&ports, &signed_call(&late)).await;
        assert_eq!(
            answer.unwrap_err().response().status(),
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(
            ports.experiments.ledger.claims.lock().unwrap().is_empty(),
            "the claim was given back"
        );
        assert!(ports.experiments.aggregates.rows().is_empty(), "nothing counted");
        let in_time = post_with(25);
        let body = json_body(&post_events(&ports, &signed_call(&in_time)).await.unwrap());
        assert_eq!(body["accepted"], 1, "{body}");
        assert_eq!(ports.experiments.aggregates.rows()[0].counts.impressions, 1);
    }

    #[tokio::test]
    async fn interleaved_clicks_credit_their_team_and_an_impression_is_won_once() {
        let ports = ports_with(json!({"schema_version": 1, "placement": "item-detail", "n": 4,
            "experiment": {"type": "interleaving", "arms": [
                {"name": "a", "result_set": "spring"}, {"name": "b", "result_set": "autumn"}]}}));
        let answer = served(&ports, "item-detail").await;
        let id = answer["recommendation_id"].as_str().unwrap().to_owned();
        let of_team = |team: &str| -> Vec<String> {
            answer["items"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|i| i["arm"] == team)
                .map(|i| i["item_id"].as_str().unwrap().to_owned())
                .collect()
        };
        let (a, b) = (of_team("a"), of_team("b"));
        post(
            &ports,
            vec![
                event("i", "impression", &id, ""),
                event("c1", "click", &id, &b[0]),
            ],
        )
        .await;
        post(
            &ports,
            vec![event("c2", "click", &id, &a[0]), event("c3", "click", &id, &b[1])],
        )
        .await;
        let rows = ports.experiments.aggregates.rows();
        let arm = |name: &str| rows.iter().find(|r| r.key.arm == name).unwrap().counts;
        assert_eq!((arm("a").impressions, arm("b").impressions), (1, 1));
        assert_eq!((arm("a").clicks, arm("b").clicks), (1, 2));
        assert_eq!(
            (arm("a").wins, arm("b").wins),
            (0, 1),
            "B led, was tied, then won: one win"
        );
        assert_eq!(rows.iter().find(|r| r.key.arm == "b").unwrap().key.version, "v9");
    }

    #[tokio::test]
    async fn whole_requests_over_the_limits_are_refused_naming_them() {
        let ports = ports_with(ab());
        let many: Vec<Value> = (0..501)
            .map(|i| event(&format!("e{i}"), "impression", "x", ""))
            .collect();
        let (status, body) = post(&ports, many).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::PAYLOAD_TOO_LARGE, Some("TooManyEvents"))
        );
        assert!(body["error"]["message"].as_str().unwrap().contains("500"));
        let big = "x".repeat(MAX_EVENTS_BYTES + 1);
        let request = gateway_request("POST", "/events", "/events", &big, &[]);
        let refused = post_events(&ports, &signed_call(&request)).await.unwrap_err();
        assert_eq!(refused.code, ErrorCode::EventsTooLarge);
        let (status, body) = post(&ports, vec![]).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("InvalidEvents"))
        );
    }
}
