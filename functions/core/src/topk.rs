//! The most frequent items of a stream in bounded memory: Space-Saving (Metwally, Agrawal and
//! El Abbadi, "Efficient computation of frequent and top-k elements in data streams", 2005).
//!
//! A counter keeps at most `capacity` items. While it has seen no more distinct items than that
//! it is exact. Past that, a new item takes the place of the least counted one, inheriting its
//! count (+1) as an over-estimate. The documented bound: after `n` occurrences, every kept
//! count over-states the item's true count by at most `n / capacity` (its `error` says by how
//! much at most), and every item that occurred more than `n / capacity` times is kept.

use std::hash::{BuildHasher, BuildHasherDefault, DefaultHasher};

use hashbrown::HashTable;

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
#[derive(Debug, Clone)]
pub struct SpaceSaving {
    capacity: usize,
    heap: Vec<Counted>,
    /// Each entry's hash, beside it (a sift moves both).
    hashes: Vec<u64>,
    /// Places in `heap`, found by an item's hash and told apart by the item itself.
    places: HashTable<u32>,
    total: u64,
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
}
