//! What an instance read recently and may serve again for a while: result-set pointers and
//! placements. Most requests then cost no read of them, and a change is served at most
//! `max_age` after it is written (at once by the instance that wrote it: it forgets).

use std::collections::HashMap;
use std::future::Future;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use recoflow_core::clock::Clock;
use recoflow_core::errors::ServiceError;

/// Bounded: a flood of made-up names must not grow a cache without end.
const MAX_ENTRIES: usize = 1_000;

pub struct ReadCache<V> {
    max_age: Duration,
    /// By name: when it was read, and what it was.
    entries: Mutex<HashMap<String, (Instant, V)>>,
}

impl<V: Clone> ReadCache<V> {
    pub fn new(max_age: Duration) -> Self {
        Self {
            max_age,
            entries: Mutex::new(HashMap::new()),
        }
    }

    /// The value of `name` from the cache while it is fresh, else from `read`.
    pub async fn get<C, F, R>(&self, clock: &C, name: &str, read: F) -> Result<V, ServiceError>
    where
        C: Clock,
        F: FnOnce() -> R,
        R: Future<Output = Result<V, ServiceError>>,
    {
        if let Some((read_at, value)) = self.entries.lock().unwrap().get(name) {
            if clock.now().duration_since(*read_at) < self.max_age {
                return Ok(value.clone());
            }
        }
        let value = read().await?;
        let mut entries = self.entries.lock().unwrap();
        if entries.len() > MAX_ENTRIES {
            entries.clear();
        }
        entries.insert(name.to_owned(), (clock.now(), value.clone()));
        Ok(value)
    }

    /// Forgets `name`: this instance reads it again next time.
    pub fn forget(&self, name: &str) {
        self.entries.lock().unwrap().remove(name);
    }
}
