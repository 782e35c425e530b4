//! A job's delivery as the state machine runs it, step after step in one process: the tests
//! and the delivery benchmark drive the steps with it. In Lambda the same steps are the state
//! machine's states (`statemachines/job.asl.json`), the score files' workers running at once.

use recoflow_core::clock::Clock;
use recoflow_core::job::JobId;

use crate::error::DeliverError;
use crate::handler::{begin, deliver_fallbacks, deliver_file, publish_version, DeliveryProgress};
use crate::ports::DeliverPorts;
use crate::score_files::score_files;

/// One round: `begin`, one invocation of each fallback share's worker, of each score file's
/// worker once the shares are done, and `publish` once every file is done; `None` while a
/// share or a file is not done (its worker spent its time budget).
pub async fn deliver_round<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
) -> Result<Option<DeliveryProgress>, DeliverError> {
    let begun = begin(ports, job_id).await?;
    let mut every_share_done = true;
    for share in begun.fallback_shares {
        let started = ports.clock().now();
        every_share_done &= deliver_fallbacks(ports, job_id, share, started).await?.done;
    }
    if !every_share_done {
        return Ok(None);
    }
    let mut every_file_done = true;
    if begun.workers_needed {
        for key in score_files(ports, &begun.prefix).await? {
            let started = ports.clock().now();
            every_file_done &= deliver_file(ports, job_id, &key, started).await?.done;
        }
    }
    if !every_file_done {
        return Ok(None);
    }
    publish_version(ports, job_id).await.map(Some)
}

/// Rounds until the version is published or held.
pub async fn deliver_to_end<P: DeliverPorts>(
    ports: &P,
    job_id: &JobId,
) -> Result<DeliveryProgress, DeliverError> {
    loop {
        if let Some(progress) = deliver_round(ports, job_id).await? {
            return Ok(progress);
        }
    }
}
