//! The recovery worker: runs endpoint recoveries (`POST .../endpoint/{ep}/recover`).
//!
//! A recovery is a row in the store; one node at a time holds it under a lease
//! (`Store::claim_recovery`), so it survives a restart and runs once in a cluster. Each
//! step requeues at most [`BATCH`] failed deliveries, in message id order, as due-now
//! manual resends, renewing the lease and moving the task's cursor in the same write
//! (through the write path, `Publisher::recovery_step`, which then tells the claimers).
//!
//! Pacing keeps live traffic moving: after each step the worker waits long enough that it
//! requeues at most [`RATE`] deliveries a second, and the requeued rows are ordinary due
//! work that the poller claims only as far as the endpoint's lane has room (a full lane is
//! skipped, so other endpoints are never held up behind a recovery). Fresh messages do not
//! go through the claim at all when there is room for them in memory.

use crate::lease::Claimant;
use crate::publish::Publisher;
use hookd_core::Timestamp;
use hookd_store::{Store, TaskStatus};
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::Instrument;

/// Most deliveries requeued per step.
pub(crate) const BATCH: u32 = 500;
/// Most deliveries requeued per second by one node.
pub(crate) const RATE: u32 = 5_000;
/// How often the worker looks for tasks when nothing wakes it (tasks of other nodes, or
/// whose holder died).
const IDLE_POLL: Duration = Duration::from_secs(2);
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

/// What the recovery worker works with.
pub(crate) struct Worker {
    pub store: Arc<dyn Store>,
    pub claimant: Claimant,
    /// Each step requeues through the write path, which tells the claimers.
    pub publisher: Publisher,
    /// A recovery task was created: look for it now.
    pub wake: Arc<Notify>,
    pub shutdown: CancellationToken,
}

/// Runs until shutdown.
pub(crate) async fn run(worker: Worker) {
    let owner = &worker.claimant.node_id;
    let pause = Duration::from_secs_f64(f64::from(BATCH) / f64::from(RATE));
    loop {
        let now = Timestamp::now();
        let claimed = worker
            .store
            .claim_recovery(owner, now, worker.claimant.lease_until(now))
            .await;
        let task = match claimed {
            Ok(Some(task)) => task,
            Ok(None) => {
                tokio::select! {
                    _ = worker.shutdown.cancelled() => return,
                    _ = worker.wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a recovery task failed");
                tokio::select! {
                    _ = worker.shutdown.cancelled() => return,
                    _ = tokio::time::sleep(ERROR_BACKOFF) => {}
                }
                continue;
            }
        };
        let span = tracing::info_span!(
            "recovery",
            task.id = %task.id,
            app.id = %task.app_id,
            endpoint.id = %task.endpoint_id
        );
        if run_task(&worker, &task.id, pause)
            .instrument(span)
            .await
            .is_break()
        {
            return;
        }
    }
}

/// Steps one held task until it finishes or the lease is lost; `Break` on shutdown.
async fn run_task(
    worker: &Worker,
    id: &hookd_core::ids::TaskId,
    pause: Duration,
) -> ControlFlow<()> {
    tracing::info!("running an endpoint recovery");
    loop {
        match worker.publisher.recovery_step(id, BATCH).await {
            Ok(Some(t)) => {
                if t.status != TaskStatus::Running {
                    tracing::info!(recovered = t.recovered, "endpoint recovery finished");
                    return ControlFlow::Continue(());
                }
            }
            Ok(None) => {
                tracing::warn!("lost the lease of a recovery task; another node continues it");
                return ControlFlow::Continue(());
            }
            Err(e) => {
                // The lease runs out unless a later step succeeds; the cursor keeps the
                // progress.
                tracing::warn!(error = %e, "a recovery step failed; retrying");
            }
        }
        tokio::select! {
            _ = worker.shutdown.cancelled() => return ControlFlow::Break(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
