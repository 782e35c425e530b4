//! What notify works with: the jobs table, the buckets (rejection reports in the forms bucket,
//! charts in the results bucket), the recommendations table (pointers, versions, result-set
//! entries), the folding table, the Slack webhook and API URL parameters, the poster, the time
//! and its settings (in Lambda, `live`; in tests, the fakes).

use recoflow_core::ports::{
    Clock, FoldStore, JobStore, ObjectStore, RecommendationStore, SecretSource, VersionStore, WebhookPoster,
};

use crate::config::NotifySettings;

pub trait NotifyPorts: Send + Sync {
    type Jobs: JobStore;
    type Objects: ObjectStore;
    type Recommendations: RecommendationStore + VersionStore;
    type Folds: FoldStore;
    type Secret: SecretSource;
    type Poster: WebhookPoster;
    type Clock: Clock;
    fn jobs(&self) -> &Self::Jobs;
    fn objects(&self) -> &Self::Objects;
    fn recommendations(&self) -> &Self::Recommendations;
    fn folds(&self) -> &Self::Folds;
    /// The Slack webhook URL; `None` when none is configured.
    fn webhook(&self) -> &Self::Secret;
    /// The REST API's base URL, for links to `GET /jobs/{id}`; no link without it.
    fn api_url(&self) -> &Self::Secret;
    fn poster(&self) -> &Self::Poster;
    fn clock(&self) -> &Self::Clock;
    fn settings(&self) -> &NotifySettings;
}

/// Declares a struct holding one value per port and its [`NotifyPorts`] implementation: the
/// live ports (`live.rs`) and the tests' fakes differ only in these types.
macro_rules! notify_ports_struct {
    ($name:ident {
        jobs: $jobs:ty,
        objects: $objects:ty,
        recommendations: $recommendations:ty,
        folds: $folds:ty,
        secret: $secret:ty,
        poster: $poster:ty,
        clock: $clock:ty $(,)?
    }) => {
        pub struct $name {
            pub jobs: $jobs,
            pub objects: $objects,
            pub recommendations: $recommendations,
            pub folds: $folds,
            pub webhook: $secret,
            pub api_url: $secret,
            pub poster: $poster,
            pub clock: $clock,
            pub settings: $crate::config::NotifySettings,
        }

        impl $crate::ports::NotifyPorts for $name {
            type Jobs = $jobs;
            type Objects = $objects;
            type Recommendations = $recommendations;
            type Folds = $folds;
            type Secret = $secret;
            type Poster = $poster;
            type Clock = $clock;

            fn jobs(&self) -> &Self::Jobs {
                &self.jobs
            }

            fn objects(&self) -> &Self::Objects {
                &self.objects
            }

            fn recommendations(&self) -> &Self::Recommendations {
                &self.recommendations
            }

            fn folds(&self) -> &Self::Folds {
                &self.folds
            }

            fn webhook(&self) -> &Self::Secret {
                &self.webhook
            }

            fn api_url(&self) -> &Self::Secret {
                &self.api_url
            }

            fn poster(&self) -> &Self::Poster {
                &self.poster
            }

            fn clock(&self) -> &Self::Clock {
                &self.clock
            }

            fn settings(&self) -> &$crate::config::NotifySettings {
                &self.settings
            }
        }
    };
}
pub(crate) use notify_ports_struct;
