//! `GET /similar-items/{result_set}/{item_id}?n=10`: the items most similar to an item
//! (`similar`); for an item the version has no list for, the popular items of its category
//! from the items file (`category`), else the result set's popular items (`global`). A list
//! shorter than `n` is topped up from the category's, then the global list (`backfilled`
//! says how many). Banned items (the operator's and the version's) and the item itself are
//! never served. Bad input is refused as on the recommendations route.
//!
//! Cost: the pointer (cached), one BatchGetItem (the item's list, its category, the global
//! list, the banned items), a second for the category's list when it is needed.

use std::collections::HashSet;

use lambda_http::http::StatusCode;
use recoflow_core::clock::Clock;
use recoflow_core::delivery::{keys, Pointer, StoredList, MAX_USER_ID_CHARS};
use recoflow_core::form::Output;
use recoflow_core::outputs::similar::keys as similar_keys;
use recoflow_core::ports::RecommendationStore;
use serde::Serialize;

use crate::call::Call;
use crate::output_pointer::pointer_holding;
use crate::ports::ApiPorts;
use crate::recommendation_query::parse_query;
use crate::recommendations::{valid_user_id, Picker};
use crate::response::{json_response, ApiError, RouteResult};
use crate::result_set_lookup::result_set_param;

#[derive(Serialize)]
struct Similar<'a> {
    item_id: &'a str,
    score: f64,
}

#[derive(Serialize)]
struct Answer<'a> {
    result_set: &'a str,
    item_id: &'a str,
    version: &'a str,
    source: &'static str,
    /// The item's category (the items file's), when it has one.
    #[serde(skip_serializing_if = "Option::is_none")]
    category: Option<&'a str>,
    items: Vec<Similar<'a>>,
    backfilled: usize,
    version_age_seconds: u64,
}

pub async fn similar_items<P: ApiPorts>(ports: &P, call: &Call<'_>) -> RouteResult {
    let result_set = result_set_param(call)?;
    let item_id = call.path_parameter("item_id");
    if !valid_user_id(item_id) {
        let problem = format!("must be 1 to {MAX_USER_ID_CHARS} characters without control characters");
        return Err(ApiError::invalid_parameter("item_id", &problem));
    }
    let query = parse_query(call.request)?;
    if let Some(name) = query.attributes().keys().min() {
        return Err(ApiError::invalid_parameter(
            name,
            "unknown query parameter; use n",
        ));
    }
    let pointer = pointer_holding(ports, result_set, Output::SimilarItems).await?;
    let n = query.n.unwrap_or(pointer.num_results as usize).max(1);
    let lists = ItemLists::read(ports.lists(), &pointer, item_id, n)
        .await
        .map_err(ApiError::service)?;
    let version_age_seconds = ports.clock().seconds_since(&pointer.published_at);
    Ok(json_response(
        StatusCode::OK,
        &lists.answer(&pointer, item_id, n, version_age_seconds),
    ))
}

/// The lists an answer is made from.
struct ItemLists {
    similar: Option<StoredList>,
    /// The item's category, and its list when the answer needs it.
    category_name: Option<String>,
    category_list: Option<StoredList>,
    global: Option<StoredList>,
    /// The operator's, the version's and the item itself.
    never: HashSet<String>,
}

impl ItemLists {
    async fn read<R: RecommendationStore>(
        lists: &R,
        pointer: &Pointer,
        item_id: &str,
        n: usize,
    ) -> Result<Self, recoflow_core::errors::ServiceError> {
        let (rs, version) = (pointer.result_set.as_str(), pointer.version.as_str());
        let wanted = [
            similar_keys::similar(rs, version, item_id),
            similar_keys::item_category(rs, version, item_id),
            keys::global(rs, version),
            keys::ALWAYS_BANNED.to_owned(),
        ];
        let mut found = lists.get_lists(&wanted).await?;
        let mut never: HashSet<String> = found
            .remove(keys::ALWAYS_BANNED)
            .map(|b| b.items)
            .unwrap_or_default()
            .into_iter()
            .chain(pointer.excluded_items.iter().cloned())
            .collect();
        never.insert(item_id.to_owned());
        let similar = found.remove(&wanted[0]);
        let category_name = found.remove(&wanted[1]).and_then(|c| c.segment);
        let global = found.remove(&wanted[2]);
        let own = similar
            .as_ref()
            .map_or(0, |l| l.items.iter().filter(|i| !never.contains(*i)).count());
        // The category's list tops up a short list, or stands in for a missing one.
        let category_list = match &category_name {
            Some(name) if own < n => {
                let key = similar_keys::category(rs, version, name);
                lists.get_lists(std::slice::from_ref(&key)).await?.remove(&key)
            }
            _ => None,
        };
        Ok(Self {
            similar,
            category_name,
            category_list,
            global,
            never,
        })
    }

    fn answer<'a>(
        &'a self,
        pointer: &'a Pointer,
        item_id: &'a str,
        n: usize,
        version_age_seconds: u64,
    ) -> Answer<'a> {
        let mut picker = Picker::new(n, &self.never);
        let own_items = self.similar.as_ref().map_or(0, |list| picker.take(list));
        let source = if own_items > 0 {
            "similar"
        } else if self
            .category_list
            .as_ref()
            .is_some_and(|list| !list.items.is_empty())
        {
            "category"
        } else {
            "global"
        };
        let before = picker.chosen.len();
        for list in self.category_list.iter().chain(&self.global) {
            if !picker.is_full() {
                picker.take(list);
            }
        }
        let backfilled = if own_items > 0 {
            picker.chosen.len() - before
        } else {
            0
        };
        Answer {
            result_set: &pointer.result_set,
            item_id,
            version: &pointer.version,
            source,
            category: self.category_name.as_deref(),
            items: picker
                .chosen
                .iter()
                .map(|&(item_id, score)| Similar { item_id, score })
                .collect(),
            backfilled,
            version_age_seconds,
        }
    }
}
