//! The recovery worker: runs endpoint recoveries (`POST .../endpoint/{ep}/recover`).
//!
//! A recovery is a row in the store; one node at a time holds it under a lease
//! (`Store::claim_recovery`), so it survives a restart and runs once in a cluster. Each
//! step requeues at most [`BATCH`] failed deliveries, in message id order, as due-now
//! manual resends, renewing the lease and moving the task's cursor in the same write.
//!
//! Pacing keeps live traffic moving: after each step the worker waits long enough that it
//! requeues at most [`RATE`] deliveries a second, and the requeued rows are ordinary due
//! work that the poller claims only as far as the endpoint's lane has room (a full lane is
//! skipped, so other endpoints are never held up behind a recovery). Fresh messages do not
//! go through the claim at all when there is room for them in memory.

use crate::engine::Shared;
use hookd_core::Timestamp;
use hookd_store::TaskStatus;
use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;
use tracing::Instrument;

/// Most deliveries requeued per step.
pub(crate) const BATCH: u32 = 500;
/// Most deliveries requeued per second by one node.
pub(crate) const RATE: u32 = 5_000;
/// How often the worker looks for tasks when nothing wakes it (tasks of other nodes, or
/// whose holder died).
const IDLE_POLL: Duration = Duration::from_secs(2);
const ERROR_BACKOFF: Duration = Duration::from_secs(1);

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// Runs until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let owner = shared.config.node_id.clone();
    let lease = shared.config.lease;
    let pause = Duration::from_secs_f64(f64::from(BATCH) / f64::from(RATE));
    loop {
        let now = Timestamp::now();
        let claimed = shared
            .store
            .claim_recovery(&owner, now, now.plus_millis(millis(lease)))
            .await;
        let task = match claimed {
            Ok(Some(task)) => task,
            Ok(None) => {
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
                    _ = shared.recovery_wake.notified() => {}
                    _ = tokio::time::sleep(IDLE_POLL) => {}
                }
                continue;
            }
            Err(e) => {
                tracing::warn!(error = %e, "claiming a recovery task failed");
                tokio::select! {
                    _ = shared.shutdown.cancelled() => return,
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
        if run_task(&shared, &task.id, &owner, pause)
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
    shared: &Shared,
    id: &hookd_core::ids::TaskId,
    owner: &str,
    pause: Duration,
) -> ControlFlow<()> {
    tracing::info!("running an endpoint recovery");
    let lease = shared.config.lease;
    loop {
        let now = Timestamp::now();
        let step = shared
            .store
            .recovery_step(id, owner, BATCH, now, now.plus_millis(millis(lease)))
            .await;
        match step {
            Ok(Some(t)) => {
                shared.poller.wake.notify_one();
                // The endpoint may be flow-controlled and owned here.
                shared.flow.kick(&t.endpoint_id);
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
            _ = shared.shutdown.cancelled() => return ControlFlow::Break(()),
            _ = tokio::time::sleep(pause) => {}
        }
    }
}
