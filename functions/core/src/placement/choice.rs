//! Who is served what: attribute conditions of rules, and the A/B assignment.
//!
//! A/B assignment is stable: a user's arm depends on their id, the experiment's salt and the
//! arms' weights only, never on a result set's version, the time or the instance. The point
//! in `[0, 2^64)` is the first 8 bytes (big-endian) of SHA-256(`salt` + `"\n"` + `user_id`);
//! scaled to the sum of the weights, it falls in one arm's share (arms in their order).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::{Arm, AttributeCondition, Condition};

/// The query string's attributes by name (values as given).
pub type RequestAttributes = BTreeMap<String, String>;

/// Whether every attribute condition holds (a missing attribute holds none). The `user` part
/// needs the user's lists and is the caller's to check.
pub fn attributes_hold(condition: &Condition, attributes: &RequestAttributes) -> bool {
    condition.attributes.iter().all(|(name, wanted)| {
        attributes
            .get(name)
            .is_some_and(|value| attribute_holds(wanted, value))
    })
}

fn attribute_holds(wanted: &AttributeCondition, value: &str) -> bool {
    let value = value.trim();
    if let Some(values) = &wanted.one_of {
        if !values.iter().any(|v| v.eq_ignore_ascii_case(value)) {
            return false;
        }
    }
    if wanted.min.is_none() && wanted.max.is_none() {
        return true;
    }
    let Ok(number) = value.parse::<f64>() else {
        return false;
    };
    wanted.min.is_none_or(|min| number >= min) && wanted.max.is_none_or(|max| number <= max)
}

/// The user's point on the assignment line, from the salt and their id only.
pub fn assignment_point(salt: &str, user_id: &str) -> u64 {
    let digest = Sha256::digest(format!("{salt}\n{user_id}").as_bytes());
    u64::from_be_bytes(digest[..8].try_into().expect("a SHA-256 digest has 8 bytes"))
}

/// The A/B arm of a user (an arm without a weight weighs 1). `None` only if no arm has weight.
pub fn assign_arm<'a>(arms: &'a [Arm], salt: &str, user_id: &str) -> Option<&'a Arm> {
    let weights: Vec<u64> = arms
        .iter()
        .map(|arm| u64::from(arm.weight.unwrap_or(1)))
        .collect();
    let total: u64 = weights.iter().sum();
    if total == 0 {
        return None;
    }
    let scaled = ((u128::from(assignment_point(salt, user_id)) * u128::from(total)) >> 64) as u64;
    let mut below = 0;
    arms.iter().zip(weights).find_map(|(arm, weight)| {
        below += weight;
        (scaled < below).then_some(arm)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::placement::AttributeCondition;

    fn arms(weights: &[u32]) -> Vec<Arm> {
        weights
            .iter()
            .enumerate()
            .map(|(i, weight)| Arm {
                name: format!("arm-{i}"),
                result_set: format!("rs-{i}"),
                weight: Some(*weight),
            })
            .collect()
    }

    #[test]
    fn ten_thousand_users_split_by_the_weights_and_keep_their_arm() {
        let half = arms(&[50, 50]);
        let mut first = 0;
        for user in 0..10_000 {
            let user_id = format!("user-{user}");
            let arm = assign_arm(&half, "2026-12", &user_id).unwrap();
            assert_eq!(
                assign_arm(&half, "2026-12", &user_id).unwrap().name,
                arm.name,
                "stable"
            );
            first += usize::from(arm.name == "arm-0");
        }
        assert!(
            (4_800..=5_200).contains(&first),
            "{first} of 10,000 in the first arm"
        );

        let skewed = arms(&[90, 10, 0]);
        let counts = (0..10_000).fold([0; 3], |mut counts, user| {
            let arm = assign_arm(&skewed, "s", &format!("u{user}")).unwrap();
            counts[arm.name[4..].parse::<usize>().unwrap()] += 1;
            counts
        });
        assert!((8_800..=9_200).contains(&counts[0]), "{counts:?}");
        assert_eq!(counts[2], 0, "a weight of 0 gets nobody");
        assert!(assign_arm(&arms(&[0, 0]), "s", "u").is_none());
    }

    #[test]
    fn another_salt_reshuffles_the_users() {
        let half = arms(&[1, 1]);
        let moved = (0..1_000)
            .filter(|user| {
                let id = format!("u{user}");
                assign_arm(&half, "a", &id).unwrap().name != assign_arm(&half, "b", &id).unwrap().name
            })
            .count();
        assert!((400..=600).contains(&moved), "{moved}");
    }

    #[test]
    fn attribute_conditions_match_values_ignoring_case_and_ranges() {
        let mut condition = Condition::default();
        condition.attributes.insert(
            "region".into(),
            AttributeCondition {
                one_of: Some(vec!["tokyo".into(), "osaka".into()]),
                ..Default::default()
            },
        );
        condition.attributes.insert(
            "age".into(),
            AttributeCondition {
                min: Some(20.0),
                max: Some(39.0),
                ..Default::default()
            },
        );
        let attributes = |pairs: &[(&str, &str)]| -> RequestAttributes {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert!(attributes_hold(
            &condition,
            &attributes(&[("region", "Tokyo"), ("age", "27")])
        ));
        assert!(!attributes_hold(
            &condition,
            &attributes(&[("region", "kyoto"), ("age", "27")])
        ));
        assert!(!attributes_hold(
            &condition,
            &attributes(&[("region", "tokyo"), ("age", "40")])
        ));
        assert!(!attributes_hold(
            &condition,
            &attributes(&[("region", "tokyo"), ("age", "old")])
        ));
        assert!(
            !attributes_hold(&condition, &attributes(&[("region", "tokyo")])),
            "missing"
        );
        assert!(attributes_hold(&Condition::default(), &attributes(&[])));
    }
}
