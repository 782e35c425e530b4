//! Recommendations handler in process: the API's own code (`api::handler::handle`) answering
//! `GET /recommendations/...` from an in-memory table, so the figure is the handler's cost
//! (parsing, composing, serialising), not DynamoDB's.
//!
//!     bench-api [REQUESTS]      # prints one JSON line: p50/p99 microseconds, requests/s

use std::time::Instant;

use api::fake::{gateway_request, FakeApiPorts};
use api::handler::handle;
use recoflow_core::delivery::{keys, Pointer, SegmentDimensions, StoredList};
use recoflow_core::fakes::FakeRecommendations;
use recoflow_core::job::JobId;

const VERSION: &str = "20261123T000000Z-bench000";
const USERS: usize = 10_000;

fn list(pk: String, items: usize, offset: usize) -> StoredList {
    StoredList {
        pk,
        items: (0..items)
            .map(|i| format!("i{:05}", (offset + i * 7) % 5_000))
            .collect(),
        scores: (0..items).map(|i| 1.0 / (i as f64 + 1.0)).collect(),
        segment: None,
        expires_at: 0,
    }
}

fn published() -> FakeRecommendations {
    let table = FakeRecommendations::default();
    let mut lists = table.lists.lock().unwrap();
    for user in 0..USERS {
        let l = list(keys::user("bench", VERSION, &format!("u{user}")), 25, user);
        lists.insert(l.pk.clone(), l);
    }
    let global = list(keys::global("bench", VERSION), 500, 0);
    lists.insert(global.pk.clone(), global);
    for (gender, age, region) in [("F", "25", "tokyo"), ("M", "45", "osaka")] {
        let row = [("GENDER", gender), ("AGE", age), ("REGION", region)];
        let attributes = SegmentDimensions::default()
            .attributes(|column| row.iter().find(|(c, _)| *c == column).map(|(_, v)| *v));
        for segment in attributes.segment_keys() {
            let l = list(keys::segment("bench", VERSION, &segment), 500, segment.len());
            lists.insert(l.pk.clone(), l);
        }
    }
    drop(lists);
    table.pointers.lock().unwrap().insert(
        "bench".into(),
        Pointer {
            pk: keys::pointer("bench"),
            result_set: "bench".into(),
            version: VERSION.into(),
            job_id: JobId::parse("bench-1").unwrap(),
            published_at: "2026-11-23T00:00:00.000Z".into(),
            num_results: 25,
            excluded_items: vec!["i00007".into()],
            users: USERS as u64,
            segments: 14,
            expires_at: 0,
            previous_version: None,
            segment_dimensions: SegmentDimensions::default(),
            output: Default::default(),
        },
    );
    table
}

/// `GET /recommendations/bench/<user>?<query>` as API Gateway hands it over.
fn request(user: &str, query: &str) -> lambda_http::Request {
    let path = format!("/recommendations/bench/{user}?{query}");
    gateway_request("GET", "/recommendations/{result_set}/{user_id}", &path, "", &[])
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let requests: usize = std::env::args()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(50_000);
    let ports = FakeApiPorts {
        lists: published(),
        ..FakeApiPorts::default()
    };
    let mut latencies = Vec::with_capacity(requests);
    let started = Instant::now();
    for i in 0..requests {
        // A third each: personalized (with backfill), segment by query, global.
        let request = match i % 3 {
            0 => request(&format!("u{}", i % USERS), "n=30"),
            1 => request("new-user", "gender=F&age=25&region=tokyo"),
            _ => request("stranger", "n=10"),
        };
        let t = Instant::now();
        let response = handle(&ports, request).await;
        latencies.push(t.elapsed().as_nanos() as u64);
        assert_eq!(response.status(), 200, "{:?}", response.body());
    }
    let seconds = started.elapsed().as_secs_f64();
    latencies.sort_unstable();
    let percentile =
        |p: f64| latencies[((latencies.len() as f64 * p) as usize).min(latencies.len() - 1)] as f64 / 1000.0;
    println!(
        "{}",
        serde_json::json!({
            "requests": requests,
            "p50_us": percentile(0.50),
            "p99_us": percentile(0.99),
            "requests_per_second": requests as f64 / seconds,
        })
    );
}
