//! `GET /placements/{placement}/{user_id}?n=&<attributes>`: what the placement shows this user.
//!
//! The first rule whose condition holds serves its result set (its arm: the rule's name); else
//! the experiment (A/B: the user's arm for good; interleaving: both arms' lists merged by team
//! draft, each item with its team), else the default result set (arm `default`). A rule's
//! `user: new` holds when the result set the user would be served without rules has no list of
//! their own in its current version. A list short of `n` once banned items (the operator's, the
//! version's, the placement's `exclude_items`) are removed is topped up from the `fill` result
//! sets (each: the user's own list there, else their segment's, else its global list), then
//! from the served result set's segment and global lists. Every answer carries a signed
//! `recommendation_id` for its events.
//!
//! Cost: the placement (cached like pointers), each result set's pointer (cached) and one
//! BatchGetItem per result set read; fill result sets are read only when a list runs short.

use std::collections::HashSet;

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::delivery::{Pointer, StoredList, MAX_LIST_ITEMS, MAX_USER_ID_CHARS};
use recoflow_core::placement::choice::{assign_arm, attributes_hold, RequestAttributes};
use recoflow_core::placement::interleaving::{seeded_coin, team_draft};
use recoflow_core::placement::recommendation_id::{sign, RecommendationClaims, ServedArm};
use recoflow_core::placement::validation::is_attribute_name;
use recoflow_core::placement::{Experiment, ExperimentKind, Placement, UserKind, DEFAULT_ARM};
use recoflow_core::ports::SigningKeys;
use serde::Serialize;

use crate::call::Call;
use crate::experiment_ports::ExperimentPorts;
use crate::output_pointer::current_pointer;
use crate::placement_views::{is_placement_name, placement_not_found};
use crate::ports::ApiPorts;
use crate::recommendation_query::{parse_query, plain_text, segment_attributes, Query, MAX_ATTRIBUTE_CHARS};
use crate::recommendations::{user_lists, valid_user_id, Asked, Picker, UserLists};
use crate::response::{json_response, ApiError, RouteResult};

#[derive(Serialize)]
struct Item<'a> {
    item_id: &'a str,
    score: f64,
    /// Interleaving: the team (arm) that picked the item; absent for fill items.
    #[serde(skip_serializing_if = "Option::is_none")]
    arm: Option<&'a str>,
}

#[derive(Serialize)]
struct ArmVersion<'a> {
    arm: &'a str,
    version: &'a str,
}

#[derive(Serialize)]
struct Answer<'a> {
    placement: &'a str,
    user_id: &'a str,
    /// The arm served; `interleaving` for a merged list (its arms in `arms`).
    arm: &'a str,
    items: Vec<Item<'a>>,
    source: &'static str,
    version: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    arms: Option<Vec<ArmVersion<'a>>>,
    recommendation_id: String,
}

/// One arm's result set as read for this user.
struct ArmLists {
    arm: String,
    pointer: Pointer,
    lists: UserLists,
}

/// What the request asks, checked once.
struct Request<'a> {
    placement: Placement,
    user_id: &'a str,
    query: Query,
    /// The query's attributes as rules see them.
    attributes: RequestAttributes,
    n: usize,
}

pub async fn serve_placement<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let request = checked_request(ports, call).await?;
    let placement = &request.placement;
    let experiment = placement.experiment.as_ref();
    let base = base_arm(placement, request.user_id);
    let mut base_lists: Option<ArmLists> = None;
    for (index, rule) in placement.rules.iter().enumerate() {
        if !attributes_hold(&rule.when, &request.attributes) {
            continue;
        }
        if let Some(kind) = rule.when.user {
            if base_lists.is_none() {
                base_lists = Some(read_arm(ports, &request, &base.0, &base.1).await?);
            }
            let scored = base_lists.as_ref().is_some_and(|b| b.lists.has_personal_list());
            if scored != (kind == UserKind::Existing) {
                continue;
            }
        }
        let served = read_arm(ports, &request, &rule.arm_name(index), &rule.result_set).await?;
        return single_answer(ports, &request, served).await;
    }
    match experiment {
        Some(
            experiment @ Experiment {
                kind: ExperimentKind::Interleaving,
                ..
            },
        ) => {
            let second = &experiment.arms[1];
            let first = match base_lists {
                Some(lists) => lists,
                None => read_arm(ports, &request, &base.0, &base.1).await?,
            };
            let other = read_arm(ports, &request, &second.name, &second.result_set).await?;
            interleaved_answer(ports, &request, [first, other]).await
        }
        _ => {
            let served = match base_lists {
                Some(lists) => lists,
                None => read_arm(ports, &request, &base.0, &base.1).await?,
            };
            single_answer(ports, &request, served).await
        }
    }
}

/// The arm a user is served without rules, and its result set: their A/B arm, the first arm
/// of an interleaving test, or the default.
fn base_arm(placement: &Placement, user_id: &str) -> (String, String) {
    match &placement.experiment {
        Some(experiment) => {
            let arm = match (experiment.kind, &experiment.salt) {
                (ExperimentKind::Ab, Some(salt)) => assign_arm(&experiment.arms, salt, user_id),
                _ => None,
            }
            .unwrap_or(&experiment.arms[0]);
            (arm.name.clone(), arm.result_set.clone())
        }
        None => (
            DEFAULT_ARM.to_owned(),
            placement.result_set.clone().unwrap_or_default(),
        ),
    }
}

async fn checked_request<'a, P: ApiPorts>(ports: &P, call: &Call<'a>) -> Result<Request<'a>, ApiError> {
    let name = call.path_parameter("placement");
    let user_id = call.path_parameter("user_id");
    if !is_placement_name(name) {
        return Err(placement_not_found(name));
    }
    if !valid_user_id(user_id) {
        let problem = format!("must be 1 to {MAX_USER_ID_CHARS} characters without control characters");
        return Err(ApiError::invalid_parameter("user_id", &problem));
    }
    let query = parse_query(call.request)?;
    let mut attributes = RequestAttributes::new();
    for (attribute, value) in query.attributes() {
        if !is_attribute_name(attribute) {
            return Err(ApiError::invalid_parameter(
                attribute,
                "not an attribute name: lower-case letters, digits and _, starting with a letter, at most 32 characters",
            ));
        }
        if !plain_text(value, MAX_ATTRIBUTE_CHARS) {
            let problem = format!("must be 1 to {MAX_ATTRIBUTE_CHARS} characters without control characters");
            return Err(ApiError::invalid_parameter(attribute, &problem));
        }
        attributes.insert(attribute.clone(), value.clone());
    }
    let experiments = ports.experiments();
    let placement = experiments
        .placement_cache()
        .get(experiments.placements(), ports.clock(), name)
        .await
        .map_err(ApiError::service)?
        .ok_or_else(|| placement_not_found(name))?;
    let n = query.n.unwrap_or(placement.n as usize).clamp(1, MAX_LIST_ITEMS);
    Ok(Request {
        placement,
        user_id,
        query,
        attributes,
        n,
    })
}

async fn read_arm<P: ApiPorts>(
    ports: &P,
    request: &Request<'_>,
    arm: &str,
    result_set: &str,
) -> Result<ArmLists, ApiError> {
    let pointer = current_pointer(ports, result_set).await?;
    let asked = Asked {
        user_id: request.user_id,
        n: Some(request.n),
        attributes: segment_attributes(&request.query, &pointer.segment_dimensions)?,
    };
    let lists = user_lists(ports.lists(), &pointer, &asked, request.n)
        .await
        .map_err(ApiError::service)?;
    Ok(ArmLists {
        arm: arm.to_owned(),
        pointer,
        lists,
    })
}

/// Every banned item of the lists read and the placement's own.
fn banned_of<'a>(placement: &Placement, arms: impl IntoIterator<Item = &'a UserLists>) -> HashSet<String> {
    let mut banned: HashSet<String> = placement.exclude_items.iter().cloned().collect();
    for lists in arms {
        banned.extend(lists.banned().iter().cloned());
    }
    banned
}

async fn single_answer<P: ApiPorts>(ports: &P, request: &Request<'_>, served: ArmLists) -> RouteResult {
    let ranked = served.lists.ranked();
    let fills = fill_lists(ports, request, &served, ranked.own).await?;
    let banned = banned_of(
        &request.placement,
        std::iter::once(&served.lists).chain(fills.iter().map(|f| &f.lists)),
    );
    let mut picked = Picker::new(request.n, &banned);
    if let Some(own) = ranked.own {
        picked.take(own);
    }
    let fill_ranked: Vec<_> = fills.iter().map(|f| f.lists.ranked()).collect();
    for list in fill_ranked
        .iter()
        .flat_map(|r| r.own.into_iter().chain(r.fallbacks.iter().copied()))
    {
        picked.take(list);
    }
    for list in &ranked.fallbacks {
        picked.take(list);
    }
    let claims = RecommendationClaims {
        placement: request.placement.placement.clone(),
        arms: vec![ServedArm {
            name: served.arm.clone(),
            version: served.pointer.version.clone(),
        }],
        source: ranked.source.to_owned(),
        issued_at: ports.clock().unix_now(),
        teams: None,
    };
    let items = picked
        .chosen
        .iter()
        .map(|(item_id, score)| Item {
            item_id,
            score: *score,
            arm: None,
        })
        .collect();
    let served = Served {
        arm: &served.arm,
        version: &served.pointer.version,
        source: ranked.source,
        items,
        arms: None,
    };
    answer(ports, request, served, claims).await
}

/// The fill result sets' lists, read only when the served list alone would fall short.
async fn fill_lists<P: ApiPorts>(
    ports: &P,
    request: &Request<'_>,
    served: &ArmLists,
    own: Option<&StoredList>,
) -> Result<Vec<ArmLists>, ApiError> {
    let banned = banned_of(&request.placement, [&served.lists]);
    let mut alone = Picker::new(request.n, &banned);
    if let Some(own) = own {
        alone.take(own);
    }
    let mut fills = Vec::new();
    if alone.is_full() {
        return Ok(fills);
    }
    for result_set in &request.placement.fill {
        fills.push(read_arm(ports, request, result_set, result_set).await?);
    }
    Ok(fills)
}

async fn interleaved_answer<P: ApiPorts>(
    ports: &P,
    request: &Request<'_>,
    arms: [ArmLists; 2],
) -> RouteResult {
    let banned = banned_of(&request.placement, arms.iter().map(|a| &a.lists));
    let ranked = [arms[0].lists.ranked(), arms[1].lists.ranked()];
    // Each team's candidates: its own list, then its fallbacks, banned items left out.
    let candidates: Vec<Vec<(&str, f64)>> = ranked
        .iter()
        .map(|r| {
            let mut team = Picker::new(request.n, &banned);
            for list in r.own.into_iter().chain(r.fallbacks.iter().copied()) {
                team.take(list);
            }
            team.chosen
        })
        .collect();
    let seed = format!(
        "{}\n{}\n{}\n{}",
        request.placement.placement, request.user_id, arms[0].pointer.version, arms[1].pointer.version
    );
    let drafted = team_draft(
        [&candidates[0], &candidates[1]],
        request.n,
        seeded_coin(seed.as_bytes()),
    );
    let mut picked = Picker::new(request.n, &banned);
    let mut items: Vec<Item<'_>> = Vec::with_capacity(request.n);
    for item in &drafted {
        if picked.add(item.item, item.score) {
            items.push(Item {
                item_id: item.item,
                score: item.score,
                arm: Some(&arms[item.team].arm),
            });
        }
    }
    let fills = if picked.is_full() {
        Vec::new()
    } else {
        let mut fills = Vec::new();
        for result_set in &request.placement.fill {
            fills.push(read_arm(ports, request, result_set, result_set).await?);
        }
        fills
    };
    let fill_ranked: Vec<_> = fills.iter().map(|f| f.lists.ranked()).collect();
    for list in fill_ranked
        .iter()
        .flat_map(|r| r.own.into_iter().chain(r.fallbacks.iter().copied()))
    {
        let before = picked.chosen.len();
        picked.take(list);
        items.extend(picked.chosen[before..].iter().map(|(item_id, score)| Item {
            item_id,
            score: *score,
            arm: None,
        }));
    }
    let claims = RecommendationClaims {
        placement: request.placement.placement.clone(),
        arms: arms
            .iter()
            .map(|a| ServedArm {
                name: a.arm.clone(),
                version: a.pointer.version.clone(),
            })
            .collect(),
        source: ranked[0].source.to_owned(),
        issued_at: ports.clock().unix_now(),
        teams: Some(RecommendationClaims::encode_teams(
            drafted.iter().map(|d| (d.item, d.team)),
        )),
    };
    let versions = arms
        .iter()
        .map(|a| ArmVersion {
            arm: &a.arm,
            version: &a.pointer.version,
        })
        .collect();
    let served = Served {
        arm: "interleaving",
        version: &arms[0].pointer.version,
        source: ranked[0].source,
        items,
        arms: Some(versions),
    };
    answer(ports, request, served, claims).await
}

/// What an answer served, before it is signed.
struct Served<'a> {
    arm: &'a str,
    version: &'a str,
    source: &'static str,
    items: Vec<Item<'a>>,
    arms: Option<Vec<ArmVersion<'a>>>,
}

async fn answer<P: ApiPorts>(
    ports: &P,
    request: &Request<'_>,
    served: Served<'_>,
    claims: RecommendationClaims,
) -> RouteResult {
    let ring = ports
        .experiments()
        .keys()
        .ring(false)
        .await
        .map_err(ApiError::service)?;
    let answer = Answer {
        placement: &request.placement.placement,
        user_id: request.user_id,
        arm: served.arm,
        items: served.items,
        source: served.source,
        version: served.version,
        arms: served.arms,
        recommendation_id: sign(&claims, &ring),
    };
    Ok(json_response(StatusCode::OK, &answer))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use recoflow_core::placement::choice::assign_arm;
    use recoflow_core::placement::recommendation_id::verify;
    use serde_json::{json, Value};

    use super::*;
    use crate::experiment_ports::fixtures::{place, publish};
    use crate::fake::*;

    const USERS: usize = 200;

    /// Two result sets: `spring` (v1) and `autumn` (v1); users `u0..u199` have a list in each
    /// (`s-<user>-1..3`, `a-<user>-1..3`), and each has a global list.
    fn two_result_sets() -> FakeApiPorts {
        let ports = FakeApiPorts::default();
        publish_both(&ports, "v1");
        ports
    }

    fn publish_both(ports: &FakeApiPorts, version: &str) {
        for (result_set, prefix) in [("spring", "s"), ("autumn", "a")] {
            let lists: Vec<(String, Vec<String>)> = (0..USERS)
                .map(|u| {
                    (
                        format!("u{u}"),
                        (1..=3).map(|i| format!("{prefix}-u{u}-{i}")).collect(),
                    )
                })
                .collect();
            let borrowed: Vec<Vec<&str>> = lists
                .iter()
                .map(|(_, l)| l.iter().map(String::as_str).collect())
                .collect();
            let users: Vec<(&str, &[&str])> = lists
                .iter()
                .zip(&borrowed)
                .map(|((user, _), items)| (user.as_str(), items.as_slice()))
                .collect();
            let global: Vec<String> = (1..=5).map(|i| format!("{prefix}-top-{i}")).collect();
            let global: Vec<&str> = global.iter().map(String::as_str).collect();
            publish(ports, result_set, version, &users, &global);
        }
    }

    fn ab() -> Value {
        json!({
            "schema_version": 1, "placement": "home-top", "n": 5,
            "rules": [{"name": "newcomers", "when": {"user": "new"}, "result_set": "autumn"}],
            "experiment": {"type": "ab", "salt": "2026-12", "arms": [
                {"name": "control", "result_set": "spring", "weight": 1},
                {"name": "candidate", "result_set": "autumn", "weight": 1}
            ]},
            "exclude_items": ["s-top-1"]
        })
    }

    async fn get(ports: &FakeApiPorts, path: &str) -> (StatusCode, Value) {
        let request = gateway_request("GET", "/placements/{placement}/{user_id}", path, "", &[]);
        let response = serve_placement(ports, &signed_call(&request))
            .await
            .unwrap_or_else(|refused| refused.response());
        (response.status(), json_body(&response))
    }

    fn items(body: &Value) -> Vec<&str> {
        body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["item_id"].as_str().unwrap())
            .collect()
    }

    #[tokio::test]
    async fn each_user_gets_their_a_b_arm_on_every_call_and_after_new_versions() {
        let ports = two_result_sets();
        place(&ports, &ab());
        let arms = recoflow_core::placement::validation::validate_placement(ab().to_string().as_bytes())
            .unwrap()
            .experiment
            .unwrap()
            .arms;
        let ring = ports.experiments.keys.ring.lock().unwrap().clone();
        let mut served = Vec::new();
        for u in 0..USERS {
            let (status, body) = get(&ports, &format!("/placements/home-top/u{u}")).await;
            assert_eq!(status, StatusCode::OK, "{body}");
            let expected = assign_arm(&arms, "2026-12", &format!("u{u}")).unwrap();
            assert_eq!(body["arm"], expected.name.as_str());
            let prefix = if expected.result_set == "spring" { "s" } else { "a" };
            assert_eq!(items(&body)[0], format!("{prefix}-u{u}-1"));
            assert_eq!(items(&body).len(), 5, "topped up from the global list");
            let claims = verify(
                body["recommendation_id"].as_str().unwrap(),
                &ring,
                ports.clock.unix_now(),
            )
            .unwrap();
            assert_eq!(
                (claims.arms[0].name.as_str(), claims.arms[0].version.as_str()),
                (expected.name.as_str(), "v1")
            );
            assert_eq!(claims.source, "personalized");
            served.push(body["arm"].clone());
        }
        let control = served.iter().filter(|a| *a == "control").count();
        assert!((70..=130).contains(&control), "{control} of {USERS}");
        // New versions of both result sets: every user keeps their arm.
        publish_both(&ports, "v2");
        ports.clock.advance(Duration::from_secs(6));
        for (u, arm) in served.iter().enumerate() {
            let (_, body) = get(&ports, &format!("/placements/home-top/u{u}")).await;
            assert_eq!(&body["arm"], arm);
            assert_eq!(body["version"], "v2");
        }
    }

    #[tokio::test]
    async fn a_new_user_gets_the_rule_and_banned_items_never_show() {
        let ports = two_result_sets();
        place(&ports, &ab());
        let (_, body) = get(&ports, "/placements/home-top/stranger").await;
        assert_eq!(body["arm"], "newcomers");
        assert_eq!(body["source"], "global");
        assert_eq!(
            items(&body),
            ["a-top-1", "a-top-2", "a-top-3", "a-top-4", "a-top-5"]
        );
        let mut document = ab();
        document["rules"] = json!([]);
        document["experiment"]["arms"][1]["weight"] = json!(0);
        place(&ports, &document);
        ports.clock.advance(Duration::from_secs(6));
        let (_, body) = get(&ports, "/placements/home-top/stranger?n=4").await;
        assert_eq!(body["arm"], "control");
        assert_eq!(
            items(&body),
            ["s-top-2", "s-top-3", "s-top-4", "s-top-5"],
            "s-top-1 is excluded"
        );
    }

    #[tokio::test]
    async fn rules_match_attributes_and_fill_tops_short_lists_up() {
        let ports = two_result_sets();
        place(
            &ports,
            &json!({
                "schema_version": 1, "placement": "coupon-mail", "n": 6, "result_set": "spring",
                "rules": [{"name": "tokyo", "when": {"attributes": {"region": {"in": ["tokyo"]}, "age": {"min": 20, "max": 39}}},
                           "result_set": "autumn"}],
                "fill": ["autumn"]
            }),
        );
        let (_, tokyo) = get(&ports, "/placements/coupon-mail/u1?region=Tokyo&age=30").await;
        assert_eq!(tokyo["arm"], "tokyo");
        let (_, older) = get(&ports, "/placements/coupon-mail/u1?region=tokyo&age=50").await;
        assert_eq!(older["arm"], "default");
        assert_eq!(
            items(&older),
            ["s-u1-1", "s-u1-2", "s-u1-3", "a-u1-1", "a-u1-2", "a-u1-3"],
            "the user's own list in the fill result set before the served one's global list"
        );
        let (status, body) = get(&ports, "/placements/coupon-mail/u1?Bad-Name=1").await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (StatusCode::BAD_REQUEST, Some("InvalidParameter"))
        );
        assert_eq!(
            get(&ports, "/placements/nowhere/u1").await.0,
            StatusCode::NOT_FOUND
        );
        assert_eq!(
            *ports.experiments.placements.reads.lock().unwrap(),
            2,
            "coupon-mail read once, nowhere once"
        );
    }

    #[tokio::test]
    async fn interleaved_answers_name_each_item_s_team() {
        let ports = two_result_sets();
        place(
            &ports,
            &json!({
                "schema_version": 1, "placement": "item-detail", "n": 6,
                "experiment": {"type": "interleaving", "arms": [
                    {"name": "a", "result_set": "spring"}, {"name": "b", "result_set": "autumn"}]}
            }),
        );
        let (status, body) = get(&ports, "/placements/item-detail/u7").await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["arm"], "interleaving");
        assert_eq!(
            body["arms"],
            json!([{"arm": "a", "version": "v1"}, {"arm": "b", "version": "v1"}])
        );
        let teams: Vec<&str> = body["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["arm"].as_str().unwrap())
            .collect();
        assert_eq!(teams.iter().filter(|t| **t == "a").count(), 3);
        for item in body["items"].as_array().unwrap() {
            let prefix = if item["arm"] == "a" { "s-" } else { "a-" };
            assert!(item["item_id"].as_str().unwrap().starts_with(prefix), "{item}");
        }
        let ring = ports.experiments.keys.ring.lock().unwrap().clone();
        let claims = verify(
            body["recommendation_id"].as_str().unwrap(),
            &ring,
            ports.clock.unix_now(),
        )
        .unwrap();
        assert_eq!(claims.arms.len(), 2);
        assert_eq!(
            claims.team_of(body["items"][0]["item_id"].as_str().unwrap()),
            Some(usize::from(teams[0] == "b"))
        );
        let (_, again) = get(&ports, "/placements/item-detail/u7").await;
        assert_eq!(
            again["items"], body["items"],
            "the same merged list on every call"
        );
    }
}
