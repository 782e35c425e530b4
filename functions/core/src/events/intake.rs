//! A `POST /events` body: at most [`MAX_EVENTS`] events in at most [`MAX_EVENTS_BYTES`], each
//! checked on its own, so one malformed event is refused naming its field and the rest go on.

use serde::Serialize;
use serde_json::{Map, Value};
use time::OffsetDateTime;

use super::aggregates::EventType;
use crate::placement::recommendation_id::{CLOCK_SKEW_SECONDS, MAX_RECOMMENDATION_AGE_SECONDS};

/// Events per request.
pub const MAX_EVENTS: usize = 500;
/// Bytes per request (1 MiB).
pub const MAX_EVENTS_BYTES: usize = 1024 * 1024;
/// Longest `event_id`.
pub const MAX_EVENT_ID_CHARS: usize = 128;
/// Longest `user_id` and `item_id`.
pub const MAX_ID_CHARS: usize = 256;
/// Largest purchase `value`.
pub const MAX_VALUE: f64 = 1e9;

const FIELDS: [&str; 7] = [
    "event_id",
    "type",
    "recommendation_id",
    "item_id",
    "user_id",
    "timestamp",
    "value",
];

/// One event as it was reported and checked (its recommendation_id still to be verified).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Event {
    pub event_id: String,
    #[serde(rename = "type")]
    pub event_type: EventType,
    pub recommendation_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item_id: Option<String>,
    pub user_id: String,
    /// As reported (RFC 3339).
    pub timestamp: String,
    #[serde(skip_serializing)]
    pub at: OffsetDateTime,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<f64>,
}

/// What is wrong with one event: its field, a stable code, a sentence.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EventProblem {
    pub field: String,
    pub code: &'static str,
    pub message: String,
}

impl EventProblem {
    pub fn new(field: &str, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            field: field.to_owned(),
            code,
            message: message.into(),
        }
    }
}

/// Why a whole request was refused.
#[derive(Debug, Clone, PartialEq)]
pub enum BatchRefusal {
    TooLarge {
        bytes: usize,
    },
    TooMany {
        events: usize,
    },
    /// Not `{"events": [...]}` with at least one event; the message says what it is.
    Malformed(String),
}

/// The body's events, each checked (`now`: the events' timestamps must be within the window).
pub fn parse_batch(
    body: &[u8],
    now: OffsetDateTime,
) -> Result<Vec<Result<Event, Vec<EventProblem>>>, BatchRefusal> {
    if body.len() > MAX_EVENTS_BYTES {
        return Err(BatchRefusal::TooLarge { bytes: body.len() });
    }
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| BatchRefusal::Malformed(format!("the body is not JSON: {e}")))?;
    let Some(object) = value.as_object() else {
        return Err(BatchRefusal::Malformed(
            "the body must be {\"events\": [...]}".into(),
        ));
    };
    if let Some(other) = object.keys().find(|k| *k != "events") {
        return Err(BatchRefusal::Malformed(format!(
            "\"{other}\" is not a field of the body; send {{\"events\": [...]}}"
        )));
    }
    let Some(events) = object.get("events").and_then(Value::as_array) else {
        return Err(BatchRefusal::Malformed("events must be a list of events".into()));
    };
    if events.is_empty() {
        return Err(BatchRefusal::Malformed(
            "events is empty; send 1 to 500 events".into(),
        ));
    }
    if events.len() > MAX_EVENTS {
        return Err(BatchRefusal::TooMany { events: events.len() });
    }
    Ok(events.iter().map(|event| parse_event(event, now)).collect())
}

/// Text of 1 to `max` characters without control characters.
fn text(
    event: &Map<String, Value>,
    field: &str,
    max: usize,
    problems: &mut Vec<EventProblem>,
) -> Option<String> {
    match event.get(field) {
        None | Some(Value::Null) => {
            problems.push(EventProblem::new(
                field,
                "missing_field",
                format!("{field} is required"),
            ));
            None
        }
        Some(Value::String(text))
            if !text.is_empty() && text.chars().count() <= max && !text.chars().any(char::is_control) =>
        {
            Some(text.clone())
        }
        Some(_) => {
            problems.push(EventProblem::new(
                field,
                "invalid_value",
                format!("{field} must be text of 1 to {max} characters without control characters"),
            ));
            None
        }
    }
}

fn parse_event(value: &Value, now: OffsetDateTime) -> Result<Event, Vec<EventProblem>> {
    let Some(event) = value.as_object() else {
        return Err(vec![EventProblem::new(
            "$",
            "not_an_object",
            "an event must be a JSON object",
        )]);
    };
    let mut problems: Vec<EventProblem> = event
        .keys()
        .filter(|k| !FIELDS.contains(&k.as_str()))
        .map(|k| {
            EventProblem::new(
                k,
                "unknown_field",
                format!(
                    "\"{k}\" is not a field of an event (fields: {})",
                    FIELDS.join(", ")
                ),
            )
        })
        .collect();
    let event_id = text(event, "event_id", MAX_EVENT_ID_CHARS, &mut problems);
    let recommendation_id = text(event, "recommendation_id", usize::MAX, &mut problems);
    let user_id = text(event, "user_id", MAX_ID_CHARS, &mut problems);
    let event_type = match event.get("type") {
        None | Some(Value::Null) => {
            problems.push(EventProblem::new("type", "missing_field", "type is required"));
            None
        }
        Some(value) => {
            let parsed = value.as_str().and_then(|t| t.parse::<EventType>().ok());
            if parsed.is_none() {
                problems.push(EventProblem::new(
                    "type",
                    "invalid_choice",
                    format!("type must be one of impression, click, add_to_cart, purchase, not {value}"),
                ));
            }
            parsed
        }
    };
    let item_id = match (event.get("item_id"), event_type) {
        (None | Some(Value::Null), Some(EventType::Impression) | None) => None,
        _ => text(event, "item_id", MAX_ID_CHARS, &mut problems),
    };
    let (timestamp, at) = match text(event, "timestamp", 64, &mut problems) {
        Some(timestamp) => match timestamp_problem(&timestamp, now) {
            Ok(at) => (Some(timestamp), Some(at)),
            Err(problem) => {
                problems.push(problem);
                (None, None)
            }
        },
        None => (None, None),
    };
    let value = value_of(event, event_type, &mut problems);
    match (event_id, event_type, recommendation_id, user_id, timestamp, at) {
        (
            Some(event_id),
            Some(event_type),
            Some(recommendation_id),
            Some(user_id),
            Some(timestamp),
            Some(at),
        ) if problems.is_empty() => Ok(Event {
            event_id,
            event_type,
            recommendation_id,
            item_id,
            user_id,
            timestamp,
            at,
            value,
        }),
        _ => Err(problems),
    }
}

fn timestamp_problem(timestamp: &str, now: OffsetDateTime) -> Result<OffsetDateTime, EventProblem> {
    let at =
        OffsetDateTime::parse(timestamp, &time::format_description::well_known::Rfc3339).map_err(|_| {
            EventProblem::new(
                "timestamp",
                "invalid_timestamp",
                format!("timestamp must be an RFC 3339 time such as 2026-12-01T08:14:29Z, not {timestamp:?}"),
            )
        })?;
    let age = (now - at).whole_seconds();
    if age < -CLOCK_SKEW_SECONDS {
        return Err(EventProblem::new(
            "timestamp",
            "timestamp_in_future",
            format!("timestamp {timestamp} is ahead of recoflow's clock by more than {CLOCK_SKEW_SECONDS} s"),
        ));
    }
    if age > MAX_RECOMMENDATION_AGE_SECONDS {
        return Err(EventProblem::new(
            "timestamp",
            "timestamp_too_old",
            format!(
                "timestamp {timestamp} is more than {} days ago; events are taken for {} days",
                MAX_RECOMMENDATION_AGE_SECONDS / 86_400,
                MAX_RECOMMENDATION_AGE_SECONDS / 86_400
            ),
        ));
    }
    Ok(at)
}

fn value_of(
    event: &Map<String, Value>,
    event_type: Option<EventType>,
    problems: &mut Vec<EventProblem>,
) -> Option<f64> {
    let value = event.get("value").filter(|v| !v.is_null())?;
    if event_type.is_some_and(|t| t != EventType::Purchase) {
        problems.push(EventProblem::new(
            "value",
            "not_for_this_type",
            "value is a purchase's revenue; remove it from other events",
        ));
        return None;
    }
    match value.as_f64() {
        Some(number) if (0.0..=MAX_VALUE).contains(&number) => Some(number),
        _ => {
            problems.push(EventProblem::new(
                "value",
                "invalid_value",
                format!("value must be a number from 0 to {MAX_VALUE}, not {value}"),
            ));
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;
    use time::macros::datetime;

    use super::*;

    const NOW: OffsetDateTime = datetime!(2026-12-01 12:00 UTC);

    fn event() -> Value {
        json!({"event_id": "e1", "type": "click", "recommendation_id": "v1.k.c.t", "item_id": "i1",
               "user_id": "u1", "timestamp": "2026-12-01T11:59:00Z"})
    }

    fn parsed(events: Vec<Value>) -> Vec<Result<Event, Vec<EventProblem>>> {
        parse_batch(json!({"events": events}).to_string().as_bytes(), NOW).unwrap()
    }

    fn fields(result: &Result<Event, Vec<EventProblem>>) -> Vec<(String, &'static str)> {
        result
            .as_ref()
            .unwrap_err()
            .iter()
            .map(|p| (p.field.clone(), p.code))
            .collect()
    }

    #[test]
    fn each_malformed_event_is_refused_naming_its_fields_and_the_others_pass() {
        let mut no_item = event();
        no_item.as_object_mut().unwrap().remove("item_id");
        let mut impression = no_item.clone();
        impression["type"] = json!("impression");
        let results = parsed(vec![
            event(),
            json!({"event_id": "", "type": "view", "colour": 1, "value": -1, "timestamp": "yesterday"}),
            no_item,
            impression,
            json!({"event_id": "e5", "type": "purchase", "recommendation_id": "r", "item_id": "i",
                   "user_id": "u", "timestamp": "2026-11-20T00:00:00Z", "value": 12.5}),
            json!("not an object"),
        ]);
        assert_eq!(results[0].as_ref().unwrap().event_type, EventType::Click);
        let second = fields(&results[1]);
        for expected in [
            ("colour", "unknown_field"),
            ("event_id", "invalid_value"),
            ("recommendation_id", "missing_field"),
            ("user_id", "missing_field"),
            ("type", "invalid_choice"),
            ("timestamp", "invalid_timestamp"),
            ("value", "invalid_value"),
        ] {
            assert!(
                second.contains(&(expected.0.to_owned(), expected.1)),
                "{expected:?} in {second:?}"
            );
        }
        assert_eq!(fields(&results[2]), [("item_id".to_owned(), "missing_field")]);
        assert!(results[3].is_ok(), "an impression is of the whole list");
        assert_eq!(
            fields(&results[4]),
            [("timestamp".to_owned(), "timestamp_too_old")]
        );
        assert_eq!(fields(&results[5]), [("$".to_owned(), "not_an_object")]);
    }

    #[test]
    fn values_belong_to_purchases_and_times_to_the_window() {
        let mut click = event();
        click["value"] = json!(3);
        assert_eq!(
            parsed(vec![click])[0].as_ref().unwrap_err()[0].code,
            "not_for_this_type"
        );
        let mut ahead = event();
        ahead["timestamp"] = json!("2026-12-01T12:06:00Z");
        assert_eq!(
            parsed(vec![ahead])[0].as_ref().unwrap_err()[0].code,
            "timestamp_in_future"
        );
        let mut tokyo = event();
        tokyo["timestamp"] = json!("2026-12-01T20:59:00+09:00");
        assert!(parsed(vec![tokyo])[0].is_ok());
    }

    #[test]
    fn whole_requests_are_refused_naming_the_limit() {
        let many: Vec<Value> = (0..=MAX_EVENTS).map(|_| event()).collect();
        let body = json!({"events": many}).to_string();
        assert_eq!(
            parse_batch(body.as_bytes(), NOW),
            Err(BatchRefusal::TooMany { events: 501 })
        );
        let huge = vec![b' '; MAX_EVENTS_BYTES + 1];
        assert!(matches!(
            parse_batch(&huge, NOW),
            Err(BatchRefusal::TooLarge { .. })
        ));
        for body in [
            "[]",
            "{\"events\": []}",
            "{\"events\": 1}",
            "{\"evnts\": []}",
            "nope",
        ] {
            assert!(
                matches!(parse_batch(body.as_bytes(), NOW), Err(BatchRefusal::Malformed(_))),
                "{body}"
            );
        }
    }
}
