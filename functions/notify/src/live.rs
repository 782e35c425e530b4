//! The ports in Lambda: the SDK adapters, the HTTPS poster and the system clock.

use recoflow_aws::{DynamoFolds, DynamoJobStore, HttpsPoster, S3Objects, SsmSecret};
use recoflow_core::clock::SystemClock;

use crate::ports::notify_ports_struct;

notify_ports_struct!(LiveNotifyPorts {
    jobs: DynamoJobStore,
    objects: S3Objects,
    folds: DynamoFolds,
    secret: SsmSecret,
    poster: HttpsPoster,
    clock: SystemClock,
});
