//! The lists a delivery writes into the version: their keys, their expiry, and how many go in
//! one write.

use recoflow_core::delivery::{keys, Delivery, StoredList};
use recoflow_core::form::JobForm;
use recoflow_core::popularity::PopularList;

/// Lists written per stretch: several full batches of 25, in flight together.
pub(crate) const CHUNK_LISTS: usize = 200;

/// The version being written: what its lists' keys and expiry are made of.
#[derive(Debug, Clone)]
pub(crate) struct VersionLists {
    pub result_set: String,
    pub version: String,
    /// Unix seconds the version's items expire.
    pub expires_at: i64,
}

impl VersionLists {
    pub fn of(form: &JobForm, delivery: &Delivery) -> Self {
        Self {
            result_set: form.result_set.clone(),
            version: delivery.version.clone(),
            expires_at: delivery.expires_at,
        }
    }

    /// A scored user's list.
    pub fn user(&self, user_id: &str, items: Vec<String>, scores: Vec<f64>) -> StoredList {
        self.list(
            keys::user(&self.result_set, &self.version, user_id),
            items,
            scores,
        )
    }

    /// A user's segment, for users the scores do not list.
    pub fn user_segment(&self, user_id: &str, segment: Option<String>) -> StoredList {
        StoredList {
            segment,
            ..self.list(
                keys::attributes(&self.result_set, &self.version, user_id),
                Vec::new(),
                Vec::new(),
            )
        }
    }

    /// A segment's popular items, or the global ones.
    pub fn popular(&self, popular: PopularList) -> StoredList {
        let pk = match &popular.segment {
            Some(segment) => keys::segment(&self.result_set, &self.version, segment),
            None => keys::global(&self.result_set, &self.version),
        };
        self.list(pk, popular.items, popular.scores)
    }

    fn list(&self, pk: String, items: Vec<String>, scores: Vec<f64>) -> StoredList {
        StoredList {
            pk,
            items,
            scores,
            segment: None,
            expires_at: self.expires_at,
        }
    }
}
