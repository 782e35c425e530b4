//! Which arm (and version) an accepted event counts for, from its verified recommendation_id
//! alone: the answer's arm; for an interleaved answer, an impression counts for both arms and
//! anything else for the team of its item (an item of neither team, a fill item, for none).

use super::aggregates::{AggregateKey, Counts, EventType};
use super::intake::Event;
use crate::placement::recommendation_id::{impression_key, RecommendationClaims};

/// What one event adds.
#[derive(Debug, Clone, PartialEq)]
pub struct Attributed {
    pub rows: Vec<(AggregateKey, Counts)>,
    /// An interleaved click: the impression it credits and the team it credits.
    pub credit: Option<(String, usize)>,
    /// The arm the event counted for (interleaving: the item's team), for the raw record.
    pub team: Option<String>,
}

pub fn attribute(event: &Event, claims: &RecommendationClaims) -> Attributed {
    let key = |arm: usize| AggregateKey {
        placement: claims.placement.clone(),
        day: event.at.to_offset(time::UtcOffset::UTC).date(),
        arm: claims.arms[arm].name.clone(),
        version: claims.arms[arm].version.clone(),
    };
    let counts = Counts::of(event.event_type, event.value);
    let interleaved = claims.teams.is_some() && claims.arms.len() == 2;
    if !interleaved {
        return Attributed {
            rows: vec![(key(0), counts)],
            credit: None,
            team: None,
        };
    }
    if event.event_type == EventType::Impression {
        return Attributed {
            rows: vec![(key(0), counts), (key(1), counts)],
            credit: None,
            team: None,
        };
    }
    let team = event.item_id.as_deref().and_then(|item| claims.team_of(item));
    Attributed {
        rows: team.map(|t| (key(t), counts)).into_iter().collect(),
        credit: team
            .filter(|_| event.event_type == EventType::Click)
            .map(|t| (impression_key(&event.recommendation_id).to_owned(), t)),
        team: team.map(|t| claims.arms[t].name.clone()),
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;
    use crate::placement::recommendation_id::ServedArm;

    fn claims(interleaved: bool) -> RecommendationClaims {
        let arm = |name: &str| ServedArm {
            name: name.into(),
            version: format!("v-{name}"),
        };
        RecommendationClaims {
            placement: "home-top".into(),
            arms: if interleaved {
                vec![arm("a"), arm("b")]
            } else {
                vec![arm("b")]
            },
            source: "personalized".into(),
            issued_at: 0,
            teams: interleaved.then(|| RecommendationClaims::encode_teams([("a1", 0), ("b1", 1)])),
        }
    }

    fn event(event_type: EventType, item: Option<&str>) -> Event {
        Event {
            event_id: "e".into(),
            event_type,
            recommendation_id: "v1.k.c.TAG".into(),
            item_id: item.map(str::to_owned),
            user_id: "u".into(),
            timestamp: "2026-12-01T23:30:00-01:00".into(),
            at: datetime!(2026-12-01 23:30 -1),
            value: Some(5.0).filter(|_| event_type == EventType::Purchase),
        }
    }

    #[test]
    fn an_a_b_event_counts_for_its_arm_on_its_utc_day() {
        let attributed = attribute(&event(EventType::Purchase, Some("i")), &claims(false));
        let (key, counts) = &attributed.rows[0];
        assert_eq!((key.arm.as_str(), key.version.as_str()), ("b", "v-b"));
        assert_eq!(key.day, time::macros::date!(2026 - 12 - 02), "00:30 UTC");
        assert_eq!((counts.purchases, counts.revenue), (1, 5.0));
        assert_eq!(attributed.credit, None);
    }

    #[test]
    fn interleaved_events_count_for_both_arms_or_the_item_s_team() {
        let interleaved = claims(true);
        let shown = attribute(&event(EventType::Impression, None), &interleaved);
        let arms: Vec<&str> = shown.rows.iter().map(|(k, _)| k.arm.as_str()).collect();
        assert_eq!(arms, ["a", "b"]);
        let click = attribute(&event(EventType::Click, Some("b1")), &interleaved);
        assert_eq!(click.rows.len(), 1);
        assert_eq!(click.rows[0].0.arm, "b");
        assert_eq!(click.credit, Some(("TAG".to_owned(), 1)));
        assert_eq!(click.team.as_deref(), Some("b"));
        let cart = attribute(&event(EventType::AddToCart, Some("a1")), &interleaved);
        assert_eq!((cart.rows[0].0.arm.as_str(), cart.credit.clone()), ("a", None));
        let fill = attribute(&event(EventType::Click, Some("filler")), &interleaved);
        assert!(fill.rows.is_empty() && fill.credit.is_none());
    }
}
