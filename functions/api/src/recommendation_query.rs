//! The query string of `GET /recommendations/...`: `n`, and the attributes of a user the model
//! never saw. Those are the served version's segment dimensions (its pointer's
//! `segment_dimensions`; by default gender, age and region), named in any case; anything else
//! is `400 InvalidParameter` naming it.

use std::collections::HashMap;

use lambda_http::{Request, RequestExt};
use recoflow_core::delivery::{Attributes, SegmentDimensions, MAX_LIST_ITEMS};
use recoflow_core::segment::AGE_COLUMN;

use crate::response::ApiError;

/// Longest attribute value a query may give.
pub const MAX_ATTRIBUTE_CHARS: usize = 64;
/// The parameter every answer takes; the others name the version's segment dimensions.
const N_PARAMETER: &str = "n";

/// Text a person could have typed: 1 to `max` characters, none a control character.
pub fn plain_text(value: &str, max: usize) -> bool {
    !value.is_empty() && value.chars().count() <= max && !value.chars().any(char::is_control)
}

/// What the query string asks for.
pub struct Query {
    pub n: Option<usize>,
    /// The other parameters: name in lower case → value, each plain text given once.
    attributes: HashMap<String, String>,
}

pub fn parse_query(request: &Request) -> Result<Query, ApiError> {
    let parameters = request.query_string_parameters();
    let mut single: HashMap<String, String> = HashMap::new();
    for (name, _) in parameters.iter() {
        let values = parameters.all(name).unwrap_or_default();
        // Names match in any case: `Prefecture` and `prefecture` are one parameter.
        if values.len() > 1 || single.contains_key(&name.to_lowercase()) {
            return Err(ApiError::invalid_parameter(name, "given more than once"));
        }
        single.insert(name.to_lowercase(), values[0].to_owned());
    }
    let n = match single.remove(N_PARAMETER) {
        None => None,
        Some(n) => match n.parse::<usize>() {
            Ok(n) if (1..=MAX_LIST_ITEMS).contains(&n) => Some(n),
            _ => {
                let problem = format!("must be a whole number from 1 to {MAX_LIST_ITEMS}, got {n:?}");
                return Err(ApiError::invalid_parameter(N_PARAMETER, &problem));
            }
        },
    };
    Ok(Query {
        n,
        attributes: single,
    })
}

impl Query {
    /// The attributes the query gave, by name in lower case.
    pub fn attributes(&self) -> &HashMap<String, String> {
        &self.attributes
    }
}

/// The query's attributes against the version's dimensions: each must name one, be plain
/// text, and a number where the dimension is banded (an age a whole number from 0 to 150).
pub fn query_attributes(query: &Query, dimensions: &SegmentDimensions) -> Result<Attributes, ApiError> {
    checked_attributes(query, dimensions, true)
}

/// The same for a placement, whose rules may name attributes of their own: those that name no
/// dimension of the version are not its segment's and are left to the rules.
pub fn segment_attributes(query: &Query, dimensions: &SegmentDimensions) -> Result<Attributes, ApiError> {
    checked_attributes(query, dimensions, false)
}

fn checked_attributes(
    query: &Query,
    dimensions: &SegmentDimensions,
    refuse_others: bool,
) -> Result<Attributes, ApiError> {
    let mut names: Vec<&String> = query.attributes.keys().collect();
    names.sort();
    for name in names {
        let value = &query.attributes[name];
        let Some(dimension) = dimensions.find(name) else {
            if !refuse_others {
                continue;
            }
            let mut known: Vec<String> = dimensions.dimensions.iter().map(|d| d.parameter()).collect();
            known.sort();
            let problem = format!(
                "unknown query parameter; this result set takes {N_PARAMETER}{}",
                known.iter().map(|k| format!(", {k}")).collect::<String>()
            );
            return Err(ApiError::invalid_parameter(name, &problem));
        };
        if !plain_text(value, MAX_ATTRIBUTE_CHARS) {
            let problem = format!("must be 1 to {MAX_ATTRIBUTE_CHARS} characters without control characters");
            return Err(ApiError::invalid_parameter(name, &problem));
        }
        if dimension.column == AGE_COLUMN && !value.parse::<u32>().is_ok_and(|a| a <= 150) {
            let problem = format!("must be a whole number from 0 to 150, got {value:?}");
            return Err(ApiError::invalid_parameter(name, &problem));
        }
        if dimension.bands.is_some() && dimension.value(value).is_none() {
            let problem = format!("must be a number, got {value:?}");
            return Err(ApiError::invalid_parameter(name, &problem));
        }
    }
    Ok(dimensions.attributes(|column| {
        query
            .attributes
            .get(&column.to_ascii_lowercase())
            .map(String::as_str)
    }))
}
