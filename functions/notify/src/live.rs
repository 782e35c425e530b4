//! The ports in Lambda: the SDK adapters, the HTTPS poster and the system clock.

use recoflow_aws::{DynamoFolds, DynamoJobStore, DynamoRecommendations, HttpsPoster, S3Objects, SsmSecret};
use recoflow_core::clock::SystemClock;

use crate::ports::notify_ports_struct;

notify_ports_struct!(LiveNotifyPorts {
    jobs: DynamoJobStore,
    objects: S3Objects,
    recommendations: DynamoRecommendations,
    folds: DynamoFolds,
    secret: SsmSecret,
    poster: HttpsPoster,
    clock: SystemClock,
});
