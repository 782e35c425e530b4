//! The most frequent items of a stream in bounded memory: Space-Saving (Metwally, Agrawal and
//! El Abbadi, "Efficient computation of frequent and top-k elements in data streams", 2005).
//!
//! A counter keeps at most `capacity` items. While it has seen no more distinct items than that
//! it is exact. Past that, a new item takes the place of the least counted one, inheriting its
//! count (+1) as an over-estimate. The documented bound: after `n` occurrences, every kept
//! count over-states the item's true count by at most `n / capacity` (its `error` says by how
//! much at most), and every item that occurred more than `n / capacity` times is kept.
//!
//! Counters of disjoint parts of a stream merge ([`SpaceSaving::merge`]) with the same bound
//! over the whole stream (Agarwal et al., "Mergeable summaries", 2012; the parallel
//! Space-Saving of Cafaro, Pulimeno and Tempesta, 2016): so each worker counts its share and
//! the shares are merged once.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use hashbrown::HashTable;
use serde::{Deserialize, Serialize};

/// One kept item.
#[derive(Debug, Clone, PartialEq)]
pub struct Counted {
    pub item: Box<str>,
    /// Occurrences counted (true count ≤ this ≤ true count + `error`).
    pub count: u64,
    /// How much `count` may over-state.
    pub error: u64,
}

/// A Space-Saving counter: entries in a binary min-heap by count, and where each item is.
/// Stored as its capacity, total and kept items ([`StoredCounter`]).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(from = "StoredCounter", into = "StoredCounter")]
pub struct SpaceSaving {
    capacity: usize,
    heap: Vec<Counted>,
    /// Each entry's hash, beside it (a sift moves both).
    hashes: Vec<u64>,
    /// Places in `heap`, found by an item's hash and told apart by the item itself.
    places: HashTable<u32>,
    total: u64,
}

/// A counter as it is stored: its kept items as `[item, count, error]`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StoredCounter {
    capacity: usize,
    total: u64,
    items: Vec<(String, u64, u64)>,
}

impl From<SpaceSaving> for StoredCounter {
    fn from(counter: SpaceSaving) -> Self {
        Self {
            capacity: counter.capacity,
            total: counter.total,
            items: counter
                .heap
                .into_iter()
                .map(|c| (c.item.into(), c.count, c.error))
                .collect(),
        }
    }
}

impl From<StoredCounter> for SpaceSaving {
    fn from(stored: StoredCounter) -> Self {
        let kept = stored.items.into_iter().map(|(item, count, error)| Counted {
            item: item.into(),
            count,
            error,
        });
        SpaceSaving::from_kept(stored.capacity, stored.total, kept)
    }
}

/// The hash [`SpaceSaving::add_hashed`] takes: compute it once for an item counted in many
/// counters.
pub fn item_hash(item: &str) -> u64 {
    BuildHasherDefault::<DefaultHasher>::default().hash_one(item)
}

impl SpaceSaving {
    pub fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            heap: Vec::new(),
            hashes: Vec::new(),
            places: HashTable::new(),
            total: 0,
        }
    }

    /// Occurrences counted in all.
    pub fn total(&self) -> u64 {
        self.total
    }

    /// Whether every count is exact (no item was ever replaced).
    pub fn is_exact(&self) -> bool {
        self.heap.iter().all(|c| c.error == 0)
    }

    pub fn add(&mut self, item: &str) {
        self.add_hashed(item, item_hash(item));
    }

    /// Counts `item`, whose [`item_hash`] is `hash`.
    pub fn add_hashed(&mut self, item: &str, hash: u64) {
        self.total += 1;
        if let Some(place) = self.place_of(hash, item) {
            self.heap[place].count += 1;
            self.sift_down(place);
            return;
        }
        if self.heap.len() < self.capacity {
            self.heap.push(Counted {
                item: item.into(),
                count: 1,
                error: 0,
            });
            self.hashes.push(hash);
            let place = self.heap.len() - 1;
            self.places
                .insert_unique(hash, place as u32, |p| self.hashes[*p as usize]);
            self.sift_up(place);
            return;
        }
        // Full: the least counted item gives its place (and its count, as the error bound).
        let evicted_hash = self.hashes[0];
        if let Ok(entry) = self.places.find_entry(evicted_hash, |p| *p == 0) {
            entry.remove();
        }
        let least = self.heap[0].count;
        self.heap[0] = Counted {
            item: item.into(),
            count: least + 1,
            error: least,
        };
        self.hashes[0] = hash;
        self.places.insert_unique(hash, 0, |p| self.hashes[*p as usize]);
        self.sift_down(0);
    }

    /// Adds the counts of `other`, a counter of another part of the stream: an item kept by
    /// both sums its counts; one kept by a single counter adds the other's least count when the
    /// other is full (the most the item can have occurred there unseen), which also bounds its
    /// error; then the `capacity` most counted are kept.
    pub fn merge(&mut self, other: &SpaceSaving) {
        let least = |counter: &SpaceSaving| match counter.heap.len() >= counter.capacity {
            true => counter.heap.first().map_or(0, |c| c.count),
            false => 0,
        };
        let (least_here, least_there) = (least(self), least(other));
        let mut merged: std::collections::HashMap<Box<str>, (u64, u64)> =
            std::collections::HashMap::with_capacity(self.heap.len() + other.heap.len());
        for kept in &self.heap {
            merged.insert(
                kept.item.clone(),
                (kept.count + least_there, kept.error + least_there),
            );
        }
        for kept in &other.heap {
            merged
                .entry(kept.item.clone())
                // Kept here too: the other's unseen bound is replaced by its real count.
                .and_modify(|(count, error)| {
                    *count = *count - least_there + kept.count;
                    *error = *error - least_there + kept.error;
                })
                .or_insert((kept.count + least_here, kept.error + least_here));
        }
        let mut kept: Vec<Counted> = merged
            .into_iter()
            .map(|(item, (count, error))| Counted { item, count, error })
            .collect();
        kept.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.item.cmp(&b.item)));
        let capacity = self.capacity.max(other.capacity);
        kept.truncate(capacity);
        *self = SpaceSaving::from_kept(capacity, self.total + other.total, kept.into_iter());
    }

    /// A counter holding `kept` (at most `capacity` of them) after `total` occurrences.
    fn from_kept(capacity: usize, total: u64, kept: impl Iterator<Item = Counted>) -> Self {
        let mut counter = SpaceSaving::new(capacity);
        counter.total = total;
        for entry in kept.take(counter.capacity) {
            let hash = item_hash(&entry.item);
            counter.heap.push(entry);
            counter.hashes.push(hash);
            let place = counter.heap.len() - 1;
            counter
                .places
                .insert_unique(hash, place as u32, |p| counter.hashes[*p as usize]);
            counter.sift_up(place);
        }
        counter
    }

    /// The kept items, most counted first (ties by item, so the same stream gives the same order).
    pub fn top(&self) -> Vec<&Counted> {
        let mut kept: Vec<&Counted> = self.heap.iter().collect();
        kept.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.item.cmp(&b.item)));
        kept
    }

    fn place_of(&self, hash: u64, item: &str) -> Option<usize> {
        self.places
            .find(hash, |p| &*self.heap[*p as usize].item == item)
            .map(|p| *p as usize)
    }

    /// Swaps two entries and their recorded places.
    fn swap(&mut self, a: usize, b: usize) {
        let (hash_a, hash_b) = (self.hashes[a], self.hashes[b]);
        if let Some(p) = self.places.find_mut(hash_a, |p| *p as usize == a) {
            *p = u32::MAX;
        }
        if let Some(p) = self.places.find_mut(hash_b, |p| *p as usize == b) {
            *p = a as u32;
        }
        if let Some(p) = self.places.find_mut(hash_a, |p| *p == u32::MAX) {
            *p = b as u32;
        }
        self.heap.swap(a, b);
        self.hashes.swap(a, b);
    }

    fn sift_up(&mut self, mut place: usize) {
        while place > 0 {
            let parent = (place - 1) / 2;
            if self.heap[parent].count <= self.heap[place].count {
                break;
            }
            self.swap(parent, place);
            place = parent;
        }
    }

    fn sift_down(&mut self, mut place: usize) {
        loop {
            let (left, right) = (2 * place + 1, 2 * place + 2);
            let mut least = place;
            for child in [left, right] {
                if child < self.heap.len() && self.heap[child].count < self.heap[least].count {
                    least = child;
                }
            }
            if least == place {
                break;
            }
            self.swap(place, least);
            place = least;
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    #[test]
    fn below_capacity_it_is_exact() {
        let mut counter = SpaceSaving::new(10);
        for item in ["a", "b", "a", "c", "a", "b"] {
            counter.add(item);
        }
        let top: Vec<(&str, u64)> = counter.top().iter().map(|c| (&*c.item, c.count)).collect();
        assert_eq!(top, [("a", 3), ("b", 2), ("c", 1)]);
        assert!(counter.is_exact());
        assert_eq!(counter.total(), 6);
    }

    /// Worked by hand: capacity 2, stream a a b c b. After a a b: a 2, b 1. c replaces the
    /// least counted (b: 1) and counts 2 with error 1. b then replaces the least (c: 2 ≤ a's 2,
    /// and c sits at the heap's root) and counts 3 with error 2. True counts: a 2, b 2, c 1.
    #[test]
    fn a_new_item_inherits_the_least_count_as_its_error() {
        let mut counter = SpaceSaving::new(2);
        for item in ["a", "a", "b", "c", "b"] {
            counter.add(item);
        }
        let top: Vec<(&str, u64, u64)> = counter
            .top()
            .iter()
            .map(|c| (&*c.item, c.count, c.error))
            .collect();
        assert_eq!(top, [("b", 3, 2), ("a", 2, 0)]);
        assert!(!counter.is_exact());
    }

    /// Against exact counts on a skewed stream far larger than the capacity: the bound holds
    /// for every kept item and no item above n / capacity is missed.
    #[test]
    fn the_documented_bound_holds_on_a_zipf_stream() {
        let capacity = 200;
        let mut counter = SpaceSaving::new(capacity);
        let mut exact: HashMap<String, u64> = HashMap::new();
        let mut rng = fastrand::Rng::with_seed(7);
        let n = 200_000u64;
        for _ in 0..n {
            // Zipf-like: item k with probability ~ 1/k over 50,000 items.
            let k = (50_000f64.powf(rng.f64())) as u64;
            let item = format!("i{k}");
            counter.add(&item);
            *exact.entry(item).or_default() += 1;
        }
        let bound = n / capacity as u64;
        for kept in counter.top() {
            let truth = exact[&*kept.item];
            assert!(
                kept.count >= truth && kept.count <= truth + kept.error,
                "{kept:?} truth {truth}"
            );
            assert!(kept.error <= bound, "{kept:?}");
        }
        for (item, count) in &exact {
            if *count > bound {
                assert!(
                    counter.top().iter().any(|c| &*c.item == item),
                    "{item} ({count}) was lost"
                );
            }
        }
        // The top 20 are the true top 20 on such a stream.
        let mut truth: Vec<(&String, &u64)> = exact.iter().collect();
        truth.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let found: Vec<&str> = counter.top().iter().take(20).map(|c| &*c.item).collect();
        let expected: Vec<&str> = truth.iter().take(20).map(|(i, _)| i.as_str()).collect();
        assert_eq!(found, expected);
    }

    fn kept(counter: &SpaceSaving) -> Vec<(String, u64, u64)> {
        counter
            .top()
            .iter()
            .map(|c| (c.item.to_string(), c.count, c.error))
            .collect()
    }

    /// Below capacity, merged counters are the counter of the whole stream.
    #[test]
    fn counters_below_capacity_merge_exactly() {
        let (mut first, mut second, mut whole) =
            (SpaceSaving::new(10), SpaceSaving::new(10), SpaceSaving::new(10));
        for item in ["a", "b", "a", "c"] {
            first.add(item);
            whole.add(item);
        }
        for item in ["b", "d", "b", "a"] {
            second.add(item);
            whole.add(item);
        }
        first.merge(&second);
        assert_eq!(kept(&first), kept(&whole));
        assert_eq!(
            kept(&first),
            [
                ("a".into(), 3, 0),
                ("b".into(), 3, 0),
                ("c".into(), 1, 0),
                ("d".into(), 1, 0)
            ]
        );
        assert_eq!(first.total(), 8);
        assert!(first.is_exact());
    }

    /// Worked by hand, capacity 2. First part a a a b: a 3, b 1 (full, least 1). Second part
    /// c c d: c 2, d 1 (full, least 1). Merged: a 3+1 (error 1), b 1+1 (error 1), c 2+1
    /// (error 1), d 1+1 (error 1); the two most counted are kept: a 4, c 3.
    #[test]
    fn an_item_one_counter_lacks_takes_that_counter_s_least_count_as_error() {
        let (mut first, mut second) = (SpaceSaving::new(2), SpaceSaving::new(2));
        for item in ["a", "a", "a", "b"] {
            first.add(item);
        }
        for item in ["c", "c", "d"] {
            second.add(item);
        }
        first.merge(&second);
        assert_eq!(kept(&first), [("a".into(), 4, 1), ("c".into(), 3, 1)]);
        assert_eq!(first.total(), 7);
    }

    /// A Zipf stream dealt at random to four counters, merged: the bound holds over the whole
    /// stream as for one counter, and the top 20 are the true top 20.
    #[test]
    fn merged_shares_keep_the_documented_bound_on_a_zipf_stream() {
        let capacity = 200;
        let mut shares: Vec<SpaceSaving> = (0..4).map(|_| SpaceSaving::new(capacity)).collect();
        let mut exact: HashMap<String, u64> = HashMap::new();
        let mut rng = fastrand::Rng::with_seed(11);
        let n = 200_000u64;
        for _ in 0..n {
            let k = (50_000f64.powf(rng.f64())) as u64;
            let item = format!("i{k}");
            shares[rng.usize(0..4)].add(&item);
            *exact.entry(item).or_default() += 1;
        }
        let mut merged = shares.remove(0);
        for share in &shares {
            merged.merge(share);
        }
        assert_eq!(merged.total(), n);
        let bound = n / capacity as u64;
        for kept in merged.top() {
            let truth = exact[&*kept.item];
            assert!(
                kept.count >= truth && kept.count <= truth + kept.error,
                "{kept:?} truth {truth}"
            );
            assert!(kept.error <= bound, "{kept:?} bound {bound}");
        }
        for (item, count) in &exact {
            if *count > bound {
                assert!(
                    merged.top().iter().any(|c| &*c.item == item),
                    "{item} ({count}) was lost"
                );
            }
        }
        let mut truth: Vec<(&String, &u64)> = exact.iter().collect();
        truth.sort_by(|a, b| b.1.cmp(a.1).then(a.0.cmp(b.0)));
        let found: Vec<&str> = merged.top().iter().take(20).map(|c| &*c.item).collect();
        let expected: Vec<&str> = truth.iter().take(20).map(|(i, _)| i.as_str()).collect();
        assert_eq!(found, expected);
    }

    #[test]
    fn a_stored_counter_counts_on_as_the_original() {
        let mut counter = SpaceSaving::new(2);
        for item in ["a", "a", "b", "c"] {
            counter.add(item);
        }
        let mut stored: SpaceSaving =
            serde_json::from_str(&serde_json::to_string(&counter).unwrap()).unwrap();
        for item in ["b", "a"] {
            counter.add(item);
            stored.add(item);
        }
        assert_eq!(kept(&stored), kept(&counter));
        assert_eq!(stored.total(), counter.total());
    }
}
