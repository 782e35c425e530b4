//! SendSummary: one message for every failure folded under a signature, once its window has
//! closed. Every folded execution asks; the first takes the failures and sends it.

use recoflow_core::job::{JobId, NotificationState};
use recoflow_core::notification::fold_summary_message;
use recoflow_core::ports::FoldStore;
use recoflow_core::task::{NotifyOutcome, NotifyState};
use tracing::info;

use crate::delivery::{deliver, remember, MessageKind};
use crate::error::NotifyError;
use crate::ports::NotifyPorts;

pub async fn send_summary<P: NotifyPorts>(ports: &P, signature: &str) -> Result<NotifyOutcome, NotifyError> {
    let Some(folded) = ports.folds().take_folded(signature).await? else {
        return Ok(NotifyOutcome::of(NotifyState::SummarySentElsewhere));
    };
    let message = fold_summary_message(
        &folded.error,
        &folded.cause,
        &folded.job_ids,
        ports.settings().fold_window_seconds,
    );
    let sent = deliver(ports, &message).await?;
    info!(
        jobs = folded.job_ids.len(),
        delivered = sent.delivered,
        "summary of folded failures"
    );
    for job_id in folded.job_ids.iter().filter_map(|id| JobId::parse(id)) {
        remember(
            ports,
            &job_id,
            MessageKind::Failure,
            NotificationState::Folded,
            &sent,
        )
        .await?;
    }
    Ok(NotifyOutcome::of(if sent.delivered {
        NotifyState::SummaryDelivered
    } else {
        NotifyState::SummaryUndelivered
    }))
}
