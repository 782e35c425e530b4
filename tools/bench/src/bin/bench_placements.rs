//! Placements and events in process: the API's own code (`api::handler::handle`) serving
//! `GET /placements/{p}/{user_id}` (an A/B test and an interleaving test over 10,000 users)
//! and taking `POST /events` (500 events a request: impressions, clicks, purchases) from
//! in-memory tables, so the figures are the handlers' cost (parsing, rules, assignment, team
//! draft, signing and verifying recommendation_ids, claims, aggregation), not the services'.
//!
//!     bench-placements [REQUESTS] [EVENT_REQUESTS]   # one JSON line: serving p50/p99 µs, events/s

use std::time::Instant;

use api::experiment_ports::fixtures::{place, publish};
use api::fake::{gateway_request, json_body, FakeApiPorts};
use api::handler::handle;
use serde_json::{json, Value};

const USERS: usize = 10_000;
const EVENTS_PER_REQUEST: usize = 500;

/// Two result sets of 10,000 users with 25 items each, an A/B and an interleaving placement.
fn ports() -> FakeApiPorts {
    let ports = FakeApiPorts::default();
    for (result_set, prefix) in [("model-a", "a"), ("model-b", "b")] {
        let lists: Vec<(String, Vec<String>)> = (0..USERS)
            .map(|u| {
                (
                    format!("u{u}"),
                    (0..25)
                        .map(|i| format!("{prefix}{}", (u * 7 + i * 13) % 5_000))
                        .collect(),
                )
            })
            .collect();
        let items: Vec<Vec<&str>> = lists
            .iter()
            .map(|(_, l)| l.iter().map(String::as_str).collect())
            .collect();
        let users: Vec<(&str, &[&str])> = lists
            .iter()
            .zip(&items)
            .map(|((u, _), l)| (u.as_str(), l.as_slice()))
            .collect();
        let global: Vec<String> = (0..500).map(|i| format!("{prefix}{i}")).collect();
        let global: Vec<&str> = global.iter().map(String::as_str).collect();
        publish(&ports, result_set, "v1", &users, &global);
    }
    place(
        &ports,
        &json!({"schema_version": 1, "placement": "home-top", "n": 10,
        "rules": [{"name": "tokyo", "when": {"attributes": {"region": {"in": ["tokyo"]}}}, "result_set": "model-b"}],
        "experiment": {"type": "ab", "salt": "bench", "arms": [
            {"name": "control", "result_set": "model-a", "weight": 50},
            {"name": "candidate", "result_set": "model-b", "weight": 50}]},
        "exclude_items": ["a7", "b7"]}),
    );
    place(
        &ports,
        &json!({"schema_version": 1, "placement": "item-detail", "n": 10,
        "experiment": {"type": "interleaving", "arms": [
            {"name": "a", "result_set": "model-a"}, {"name": "b", "result_set": "model-b"}]}}),
    );
    ports
}

fn serve(placement: &str, user: &str) -> lambda_http::Request {
    let path = format!("/placements/{placement}/{user}");
    gateway_request("GET", "/placements/{placement}/{user_id}", &path, "", &[])
}

fn percentile(sorted: &[u64], p: f64) -> f64 {
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)] as f64 / 1_000.0
}

/// Events of one request: per answer an impression, then clicks and a purchase on some.
fn events(answers: &[Value], request: usize, now: &str) -> String {
    let events: Vec<Value> = (0..EVENTS_PER_REQUEST)
        .map(|i| {
            let answer = &answers[(request * 7 + i) % answers.len()];
            let (event_type, item) = match i % 10 {
                0..=5 => ("impression", None),
                6..=8 => ("click", Some(answer["items"][i % 3]["item_id"].clone())),
                _ => ("purchase", Some(answer["items"][0]["item_id"].clone())),
            };
            let mut event = json!({"event_id": format!("r{request}-e{i}"), "type": event_type,
                "recommendation_id": answer["recommendation_id"], "user_id": answer["user_id"], "timestamp": now});
            if let Some(item) = item {
                event["item_id"] = item;
            }
            if event_type == "purchase" {
                event["value"] = json!(12.5);
            }
            event
        })
        .collect();
    json!({ "events": events }).to_string()
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let mut args = std::env::args().skip(1).map(|n| n.parse::<usize>().ok());
    let requests = args.next().flatten().unwrap_or(50_000);
    let event_requests = args.next().flatten().unwrap_or(200);
    let ports = ports();

    let mut latencies = Vec::with_capacity(requests);
    let mut answers = Vec::new();
    for i in 0..requests {
        // Mostly the A/B placement (a tenth matching the attribute rule), a quarter interleaved.
        let user = format!("u{}", i % USERS);
        let request = match i % 4 {
            0 => serve("item-detail", &user),
            1 if i % 10 == 1 => {
                let path = format!("/placements/home-top/{user}?region=tokyo");
                gateway_request("GET", "/placements/{placement}/{user_id}", &path, "", &[])
            }
            _ => serve("home-top", &user),
        };
        let t = Instant::now();
        let response = handle(&ports, request).await;
        latencies.push(t.elapsed().as_nanos() as u64);
        assert_eq!(response.status(), 200, "{:?}", response.body());
        if answers.len() < 2_000 {
            answers.push(json_body(&response));
        }
    }
    latencies.sort_unstable();

    let now = recoflow_core::clock::rfc3339(time_now());
    let bodies: Vec<String> = (0..event_requests).map(|r| events(&answers, r, &now)).collect();
    let started = Instant::now();
    let mut accepted = 0;
    for body in &bodies {
        let request = gateway_request("POST", "/events", "/events", body, &[]);
        let response = handle(&ports, request).await;
        assert_eq!(response.status(), 202, "{:?}", response.body());
        accepted += json_body(&response)["accepted"].as_u64().unwrap();
    }
    let event_seconds = started.elapsed().as_secs_f64();
    assert_eq!(
        accepted as usize,
        event_requests * EVENTS_PER_REQUEST,
        "every event counted once"
    );
    println!(
        "{}",
        json!({
            "serving_requests": requests,
            "serving_p50_us": percentile(&latencies, 0.50),
            "serving_p99_us": percentile(&latencies, 0.99),
            "events": accepted,
            "events_per_second": (accepted as f64 / event_seconds).round(),
            "event_request_p_mean_ms": event_seconds * 1_000.0 / event_requests as f64,
        })
    );
}

/// The wall clock the fake ports start from (the events must be within their window).
fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
