//! The audience and similar-items routes on fakes: what each answers, the pages adding up to
//! the CSV, the fallbacks of an item without a list, and each bad input's one error shape.

use lambda_http::http::StatusCode;
use lambda_http::BoxFuture;
use recoflow_core::delivery::{keys, StoredList};
use recoflow_core::form::Output;
use recoflow_core::outputs::audience::{csv_key, manifest_key, AudienceEntry, AudienceManifest, ValueCount};
use recoflow_core::outputs::similar::keys as similar_keys;
use serde_json::Value;

use crate::audience_show::show_audience;
use crate::audience_users::audience_users;
use crate::call::Call;
use crate::fake::*;
use crate::recommendations::recommend;
use crate::response::RouteResult;
use crate::similar_items::similar_items;

/// [`RS`] serving `version`, which holds `output`.
fn serving(output: Output, version: &str) -> FakeApiPorts {
    let ports = FakeApiPorts::default();
    publish(&ports, output, version);
    ports
}

fn publish(ports: &FakeApiPorts, output: Output, version: &str) {
    let mut pointer = pointer_to(ports, version, None, "2026-12-01T00:00:00.000Z");
    pointer.output = output;
    ports.lists.pointers.lock().unwrap().insert(RS.into(), pointer);
    ports.pointers.forget(RS);
}

const CSV: &str = "user_id,score,GENDER,PREFECTURE\nu1,0.9,F,東京都\n\"u,2\",0.8,F,大阪府\nu3,0.7,F,東京都\nu4,0.6,F,\nu5,0.5,F,東京都\n";

/// A version of two audiences: `coat` (the CSV above) and `hat` (empty).
fn write_audiences(ports: &FakeApiPorts, version: &str) {
    let entry = |item: &str, ordinal: usize, size: u64| AudienceEntry {
        item: Some(item.into()),
        item_filter: None,
        csv: csv_key(RS, version, ordinal),
        size,
        breakdown: [(
            "PREFECTURE".to_owned(),
            vec![ValueCount {
                value: "東京都".into(),
                users: 3,
            }],
        )]
        .into(),
        error: None,
    };
    let manifest = AudienceManifest {
        result_set: RS.into(),
        version: version.into(),
        job_id: recoflow_core::job::JobId::parse("job-1").unwrap(),
        created_at: "2026-12-01T00:00:00.000Z".into(),
        columns: vec!["GENDER".into(), "PREFECTURE".into()],
        size: Some(5),
        min_score: None,
        audiences: vec![entry("coat", 0, 5), entry("hat", 1, 0)],
    };
    let objects = &ports.objects;
    objects.insert(
        "results",
        &manifest_key(RS, version),
        serde_json::to_vec(&manifest).unwrap(),
    );
    objects.insert("results", &csv_key(RS, version, 0), CSV);
    objects.insert(
        "results",
        &csv_key(RS, version, 1),
        "user_id,score,GENDER,PREFECTURE\n",
    );
}

async fn call(
    ports: &FakeApiPorts,
    resource: &str,
    path: &str,
    route: for<'a> fn(&'a FakeApiPorts, &'a Call<'a>) -> Routed<'a>,
) -> (StatusCode, Value) {
    let request = gateway_request("GET", resource, path, "", &[]);
    let response = route(ports, &signed_call(&request))
        .await
        .unwrap_or_else(|refused| refused.response());
    (response.status(), json_body(&response))
}

fn show<'a>(ports: &'a FakeApiPorts, call: &'a Call<'a>) -> Routed<'a> {
    Box::pin(show_audience(ports, call))
}

fn users<'a>(ports: &'a FakeApiPorts, call: &'a Call<'a>) -> Routed<'a> {
    Box::pin(audience_users(ports, call))
}

fn similar<'a>(ports: &'a FakeApiPorts, call: &'a Call<'a>) -> Routed<'a> {
    Box::pin(similar_items(ports, call))
}

fn recommendations<'a>(ports: &'a FakeApiPorts, call: &'a Call<'a>) -> Routed<'a> {
    Box::pin(recommend(ports, call))
}

/// A route's handler, its future boxed (as the routing table keeps it).
type Routed<'a> = BoxFuture<'a, RouteResult>;

const SHOW: &str = "/audiences/{result_set}";
const USERS: &str = "/audiences/{result_set}/users";
const SIMILAR: &str = "/similar-items/{result_set}/{item_id}";

#[tokio::test]
async fn an_audience_shows_its_size_breakdown_and_pages_that_add_up_to_its_csv() {
    let ports = serving(Output::Audience, V1);
    write_audiences(&ports, V1);
    let (status, body) = call(&ports, SHOW, "/audiences/spring", show).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["size"].as_u64(), body["version"].as_str()),
        (Some(5), Some(V1))
    );
    assert_eq!(body["audiences"][0]["breakdown"]["PREFECTURE"][0]["users"], 3);
    assert_eq!(
        body["audiences"][0]["users_path"],
        "/audiences/spring/users?item=coat"
    );

    let mut read = Vec::new();
    let mut path = "/audiences/spring/users?item=coat&limit=2".to_owned();
    loop {
        let (status, body) = call(&ports, USERS, &path, users).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        for user in body["users"].as_array().unwrap() {
            read.push(format!(
                "{},{},{}",
                user["user_id"].as_str().unwrap(),
                user["score"],
                user["attributes"]["PREFECTURE"].as_str().unwrap()
            ));
        }
        match body["next"].as_str() {
            Some(next) => path = format!("/audiences/spring/users?item=coat&limit=2&next={next}"),
            None => break,
        }
        // A newer version does not change the pages of the one being read.
        publish(&ports, Output::Audience, V2);
    }
    assert_eq!(
        read,
        [
            "u1,0.9,東京都",
            "u,2,0.8,大阪府",
            "u3,0.7,東京都",
            "u4,0.6,",
            "u5,0.5,東京都"
        ]
    );
}

#[tokio::test]
async fn audience_routes_refuse_what_they_cannot_answer_in_the_one_error_shape() {
    let ports = serving(Output::Audience, V1);
    write_audiences(&ports, V1);
    let v1_cursor = format!("{V1}~0~60");
    for (path, status, code) in [
        ("/audiences/spring?x=1", 400, "InvalidParameter"),
        ("/audiences/nope", 404, "ResultSetNotFound"),
        ("/audiences/spring/users?item=boot", 400, "InvalidParameter"),
        ("/audiences/spring/users", 400, "InvalidParameter"),
        (
            "/audiences/spring/users?item=coat&limit=0",
            400,
            "InvalidParameter",
        ),
        (
            "/audiences/spring/users?item=coat&limit=1001",
            400,
            "InvalidParameter",
        ),
        (
            "/audiences/spring/users?item=coat&next=garbage",
            400,
            "InvalidParameter",
        ),
        (
            "/audiences/spring/users?item=coat&next=20260101T000000Z-deadbeef~0~0",
            400,
            "InvalidParameter",
        ),
        (
            &format!("/audiences/spring/users?item=hat&next={v1_cursor}"),
            400,
            "InvalidParameter",
        ),
        (
            "/audiences/spring/users?item=coat&item=hat",
            400,
            "InvalidParameter",
        ),
    ] {
        let resource = if path.contains("/users") { USERS } else { SHOW };
        let route = if path.contains("/users") { users } else { show };
        let (got, body) = call(&ports, resource, path, route).await;
        assert_eq!(
            (got.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    // Users' lists are not served from an audience, nor audiences from users' lists.
    let (status, body) = call(
        &ports,
        "/recommendations/{result_set}/{user_id}",
        "/recommendations/spring/u1",
        recommendations,
    )
    .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /audiences/spring"),
        "{body}"
    );
    let ports = serving(Output::UserItems, V1);
    let (status, body) = call(&ports, SHOW, "/audiences/spring", show).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("GET /recommendations/spring"),
        "{body}"
    );
}

fn put(ports: &FakeApiPorts, pk: String, items: &[&str], segment: Option<&str>) {
    let list = StoredList {
        pk: pk.clone(),
        items: items.iter().map(|i| (*i).to_owned()).collect(),
        scores: (0..items.len()).map(|i| 1.0 - i as f64 / 10.0).collect(),
        segment: segment.map(str::to_owned),
        expires_at: 0,
    };
    ports.lists.lists.lock().unwrap().insert(pk, list);
}

fn similar_version() -> FakeApiPorts {
    let ports = serving(Output::SimilarItems, V1);
    put(
        &ports,
        similar_keys::similar(RS, V1, "coat"),
        &["scarf", "banned-hat"],
        None,
    );
    for (item, category) in [("coat", "outer"), ("new-coat", "outer")] {
        put(
            &ports,
            similar_keys::item_category(RS, V1, item),
            &[],
            Some(category),
        );
    }
    put(
        &ports,
        similar_keys::category(RS, V1, "outer"),
        &["coat", "parka", "banned-hat", "jacket"],
        None,
    );
    put(&ports, keys::global(RS, V1), &["tent", "coat", "parka"], None);
    put(&ports, keys::ALWAYS_BANNED.to_owned(), &["banned-hat"], None);
    ports
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
async fn similar_items_then_the_category_s_then_the_global_list_never_banned_nor_the_item_itself() {
    let ports = similar_version();
    let (status, body) = call(&ports, SIMILAR, "/similar-items/spring/coat?n=3", similar).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        (body["source"].as_str(), body["version"].as_str()),
        (Some("similar"), Some(V1))
    );
    assert_eq!(item_ids(&body), ["scarf", "parka", "jacket"]);
    assert_eq!(
        (body["backfilled"].as_u64(), body["category"].as_str()),
        (Some(2), Some("outer"))
    );

    let (_, body) = call(&ports, SIMILAR, "/similar-items/spring/new-coat?n=2", similar).await;
    assert_eq!(
        (body["source"].as_str(), item_ids(&body)),
        (Some("category"), vec!["coat", "parka"])
    );
    let (_, body) = call(&ports, SIMILAR, "/similar-items/spring/unheard-of", similar).await;
    assert_eq!(
        (body["source"].as_str(), item_ids(&body)),
        (Some("global"), vec!["tent", "coat", "parka"])
    );
}

#[tokio::test]
async fn similar_items_refuse_bad_input_as_the_user_route_does() {
    let ports = similar_version();
    for (path, status, code) in [
        ("/similar-items/spring/coat?n=0", 400, "InvalidParameter"),
        ("/similar-items/spring/coat?n=501", 400, "InvalidParameter"),
        ("/similar-items/spring/coat?n=x", 400, "InvalidParameter"),
        ("/similar-items/spring/coat?gender=F", 400, "InvalidParameter"),
        ("/similar-items/spring/coat?n=1&n=2", 400, "InvalidParameter"),
        ("/similar-items/spring/co%0Aat", 400, "InvalidParameter"),
        ("/similar-items/spring/co\nat", 400, "InvalidParameter"),
        ("/similar-items/..%2F/coat", 404, "ResultSetNotFound"),
        ("/similar-items/autumn/coat", 404, "ResultSetNotFound"),
    ] {
        let (got, body) = call(&ports, SIMILAR, path, similar).await;
        assert_eq!(
            (got.as_u16(), body["error"]["code"].as_str()),
            (status, Some(code)),
            "{path}: {body}"
        );
    }
    let long = "x".repeat(257);
    let (got, _) = call(&ports, SIMILAR, &format!("/similar-items/spring/{long}"), similar).await;
    assert_eq!(got.as_u16(), 400);
    let ports = serving(Output::Audience, V1);
    let (got, body) = call(&ports, SIMILAR, "/similar-items/spring/coat", similar).await;
    assert_eq!(
        (got.as_u16(), body["error"]["code"].as_str()),
        (404, Some("ResultSetNotFound"))
    );
}
