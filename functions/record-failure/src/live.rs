//! The ports in Lambda: the DynamoDB adapter.

use recoflow_aws::DynamoJobStore;

use crate::ports::RecordFailurePorts;

pub struct LiveRecordFailurePorts {
    pub jobs: DynamoJobStore,
}

impl RecordFailurePorts for LiveRecordFailurePorts {
    type Jobs = DynamoJobStore;

    fn jobs(&self) -> &Self::Jobs {
        &self.jobs
    }
}
