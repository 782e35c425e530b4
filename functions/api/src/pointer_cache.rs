//! Result-set pointers read recently, per function instance: most recommendation requests
//! then cost one BatchGetItem, and a new version is served at most `POINTER_MAX_AGE` after it
//! is published.

use std::time::Duration;

use recoflow_core::clock::Clock;
use recoflow_core::delivery::Pointer;
use recoflow_core::errors::ServiceError;
use recoflow_core::ports::RecommendationStore;

use crate::read_cache::ReadCache;

/// How stale a result set's pointer may be.
pub const POINTER_MAX_AGE: Duration = Duration::from_secs(5);

pub struct PointerCache {
    /// By result set: the pointer (`None`: not published).
    pointers: ReadCache<Option<Pointer>>,
}

impl Default for PointerCache {
    fn default() -> Self {
        Self {
            pointers: ReadCache::new(POINTER_MAX_AGE),
        }
    }
}

impl PointerCache {
    /// The result set's pointer, from the cache while it is fresh, else from the table.
    pub async fn get<R: RecommendationStore, C: Clock>(
        &self,
        lists: &R,
        clock: &C,
        result_set: &str,
    ) -> Result<Option<Pointer>, ServiceError> {
        self.pointers
            .get(clock, result_set, || lists.pointer(result_set))
            .await
    }

    /// Forgets the result set's pointer: after a promote or rollback this instance serves the
    /// new version at once (other instances within `POINTER_MAX_AGE`).
    pub fn forget(&self, result_set: &str) {
        self.pointers.forget(result_set);
    }
}

#[cfg(test)]
mod tests {
    use recoflow_core::fakes::{FakeClock, FakeRecommendations};

    use super::*;

    #[tokio::test]
    async fn a_pointer_is_read_again_once_it_is_older_than_the_max_age() {
        let (cache, lists, clock) = (
            PointerCache::default(),
            FakeRecommendations::default(),
            FakeClock::default(),
        );
        for _ in 0..3 {
            assert_eq!(cache.get(&lists, &clock, "spring").await.unwrap(), None);
        }
        assert_eq!(*lists.get_calls.lock().unwrap(), 1, "read once, then cached");
        clock.advance(POINTER_MAX_AGE);
        cache.get(&lists, &clock, "spring").await.unwrap();
        assert_eq!(*lists.get_calls.lock().unwrap(), 2, "read again when stale");
    }
}
