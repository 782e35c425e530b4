//! Team-draft interleaving (Radlinski, Kurup and Joachims, "How does clickthrough data reflect
//! retrieval quality?", CIKM 2008) and its credit.
//!
//! Two arms' lists become one: while both teams have picked as many items, a coin says which
//! team picks first; otherwise the team with fewer picks picks. A team picks its own list's
//! best item not in the merged list yet, and the item is that team's. When one list runs out
//! the other team goes on picking.
//!
//! Credit: a click (or add-to-cart, purchase) counts for the team of its item. An impression
//! is won by the team whose items took more of its clicks (a tie wins nothing). The
//! preference share is arm B's wins over both arms' wins (see `kpi`).
//!
//! Worked example (`the_documented_example`): A = [a1, a2, a3], B = [b1, a1, b2], n = 4, the
//! coin saying A then B: a1 (A), b1 (B), then B first: b2 (B), a2 (A). Clicks on b1, a2 and b2
//! credit B twice and A once: B wins the impression.

use std::collections::HashSet;

use sha2::{Digest, Sha256};

/// One item of the merged list and the team (0 or 1) it was picked by.
#[derive(Debug, Clone, PartialEq)]
pub struct Drafted<'a> {
    pub item: &'a str,
    pub score: f64,
    pub team: usize,
}

/// The coin of round `round` (0 or 1: which team picks first), from SHA-256 of the seed and
/// the round's block of 256 rounds, so one user sees the same merged list on every call.
pub fn seeded_coin(seed: &[u8]) -> impl FnMut(usize) -> usize + '_ {
    let mut block: Option<(usize, [u8; 32])> = None;
    move |round| {
        let wanted = round / 256;
        let bits = match block {
            Some((at, bits)) if at == wanted => bits,
            _ => {
                let mut hasher = Sha256::new();
                hasher.update(seed);
                hasher.update((wanted as u64).to_be_bytes());
                let bits: [u8; 32] = hasher.finalize().into();
                block = Some((wanted, bits));
                bits
            }
        };
        let bit = round % 256;
        usize::from(bits[bit / 8] >> (bit % 8) & 1)
    }
}

/// Merges the two lists (each without banned items already) into at most `n` items.
pub fn team_draft<'a>(
    lists: [&[(&'a str, f64)]; 2],
    n: usize,
    mut coin: impl FnMut(usize) -> usize,
) -> Vec<Drafted<'a>> {
    let mut merged: Vec<Drafted<'a>> = Vec::with_capacity(n);
    let mut chosen: HashSet<&str> = HashSet::with_capacity(n);
    let mut next = [0usize; 2];
    let mut picks = [0usize; 2];
    let mut rounds = 0;
    while merged.len() < n {
        for team in 0..2 {
            while next[team] < lists[team].len() && chosen.contains(lists[team][next[team]].0) {
                next[team] += 1;
            }
        }
        let open = [next[0] < lists[0].len(), next[1] < lists[1].len()];
        let team = match open {
            [false, false] => break,
            [true, false] => 0,
            [false, true] => 1,
            _ if picks[0] < picks[1] => 0,
            _ if picks[1] < picks[0] => 1,
            _ => {
                rounds += 1;
                coin(rounds - 1)
            }
        };
        let (item, score) = lists[team][next[team]];
        chosen.insert(item);
        merged.push(Drafted { item, score, team });
        picks[team] += 1;
    }
    merged
}

/// An item's fingerprint, as a recommendation_id remembers each team's items: the first 4
/// bytes of SHA-256 of its id.
pub fn fingerprint(item_id: &str) -> u32 {
    let digest = Sha256::digest(item_id.as_bytes());
    u32::from_be_bytes(digest[..4].try_into().expect("a SHA-256 digest has 4 bytes"))
}

/// The team whose item this is, from the teams' fingerprints; `None` for an item of neither
/// (a fill item, or one not in the list).
pub fn credited_team(teams: &[Vec<u32>; 2], item_id: &str) -> Option<usize> {
    let print = fingerprint(item_id);
    (0..2).find(|team| teams[*team].contains(&print))
}

/// The team that won an impression with these credited clicks (`None`: a tie, or no clicks).
pub fn winner(credits: [i64; 2]) -> Option<usize> {
    match credits[0].cmp(&credits[1]) {
        std::cmp::Ordering::Greater => Some(0),
        std::cmp::Ordering::Less => Some(1),
        std::cmp::Ordering::Equal => None,
    }
}

/// What to add to each arm's wins when an impression's credits go from `before` to `after`:
/// the wins add up to the impressions each arm wins, however the clicks arrive.
pub fn win_changes(before: [i64; 2], after: [i64; 2]) -> [i64; 2] {
    let won = |credits, team| i64::from(winner(credits) == Some(team));
    [won(after, 0) - won(before, 0), won(after, 1) - won(before, 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn list<'a>(items: &[&'a str]) -> Vec<(&'a str, f64)> {
        items.iter().map(|item| (*item, 1.0)).collect()
    }

    fn drafted(merged: &[Drafted<'_>]) -> Vec<(String, usize)> {
        merged.iter().map(|d| (d.item.to_owned(), d.team)).collect()
    }

    #[test]
    fn the_documented_example() {
        let (a, b) = (list(&["a1", "a2", "a3"]), list(&["b1", "a1", "b2"]));
        let coins = [0, 1];
        let merged = team_draft([&a, &b], 4, |round| coins[round]);
        assert_eq!(
            drafted(&merged),
            [
                ("a1".to_owned(), 0),
                ("b1".to_owned(), 1),
                ("b2".to_owned(), 1),
                ("a2".to_owned(), 0)
            ]
        );
        let teams = [
            vec![fingerprint("a1"), fingerprint("a2")],
            vec![fingerprint("b1"), fingerprint("b2")],
        ];
        let mut credits = [0i64; 2];
        let mut wins = [0i64; 2];
        for click in ["b1", "a2", "b2"] {
            let team = credited_team(&teams, click).unwrap();
            let before = credits;
            credits[team] += 1;
            let change = win_changes(before, credits);
            wins = [wins[0] + change[0], wins[1] + change[1]];
        }
        assert_eq!(credits, [1, 2], "A credited once, B twice");
        assert_eq!(wins, [0, 1], "B won the impression");
        assert_eq!(credited_team(&teams, "z9"), None);
    }

    #[test]
    fn a_list_that_runs_out_leaves_the_picks_to_the_other() {
        let (a, b) = (list(&["x"]), list(&["x", "y", "z"]));
        let merged = team_draft([&a, &b], 5, |_| 0);
        assert_eq!(
            drafted(&merged),
            [("x".to_owned(), 0), ("y".to_owned(), 1), ("z".to_owned(), 1)]
        );
    }

    #[test]
    fn each_team_gets_half_the_items_and_the_coin_is_fair_and_stable() {
        let (a, b): (Vec<String>, Vec<String>) = (
            (0..50).map(|i| format!("a{i}")).collect(),
            (0..50).map(|i| format!("b{i}")).collect(),
        );
        let a: Vec<(&str, f64)> = a.iter().map(|i| (i.as_str(), 1.0)).collect();
        let b: Vec<(&str, f64)> = b.iter().map(|i| (i.as_str(), 1.0)).collect();
        let mut first_a = 0;
        for user in 0..1_000 {
            let seed = format!("home-top\nuser-{user}");
            let merged = team_draft([&a, &b], 10, seeded_coin(seed.as_bytes()));
            assert_eq!(merged.iter().filter(|d| d.team == 0).count(), 5);
            assert_eq!(merged, team_draft([&a, &b], 10, seeded_coin(seed.as_bytes())));
            first_a += usize::from(merged[0].team == 0);
        }
        assert!((430..=570).contains(&first_a), "{first_a}");
        let mut coin = seeded_coin(b"s");
        let flips: usize = (0..1_000).map(&mut coin).sum();
        assert!((430..=570).contains(&flips), "{flips}");
    }

    #[test]
    fn wins_follow_the_lead_as_clicks_arrive() {
        assert_eq!(win_changes([0, 0], [1, 0]), [1, 0]);
        assert_eq!(win_changes([1, 0], [1, 1]), [-1, 0], "a tie takes the win back");
        assert_eq!(win_changes([1, 1], [1, 2]), [0, 1]);
        assert_eq!(win_changes([2, 1], [3, 1]), [0, 0]);
    }
}
