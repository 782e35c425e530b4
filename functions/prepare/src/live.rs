//! The ports in Lambda: the SDK adapters.

use recoflow_aws::{DynamoJobStore, S3Objects};

use crate::ports::prepare_ports_struct;

prepare_ports_struct!(LivePreparePorts {
    jobs: DynamoJobStore,
    objects: S3Objects,
});
