//! The poller: claims due destinations from the store in batches and queues them.
//!
//! Fresh messages reach the lanes directly from the write path; the poller finds the
//! rest: retries coming due, destinations admission had no room for, resends, and work
//! left behind by a crashed node once its lease ran out. It claims only as much as there
//! is room for and skips endpoints whose lane is full, so memory stays bounded. Besides its
//! interval and local wake-ups, it listens to the store's `due_signal` (PostgreSQL's
//! LISTEN/NOTIFY), so work another node could not take itself is picked up at once.

use crate::dispatcher::Dispatcher;
use crate::lease::Claimant;
use crate::metrics::DeliveryMetrics;
use crate::pacing::Pacing;
use crate::signal::PollerSignal;
use hookd_core::Timestamp;
use hookd_store::Store;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Most destinations claimed per query.
const BATCH: usize = 500;
const MIN_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the poller works with.
pub(crate) struct Poller {
    pub store: Arc<dyn Store>,
    /// Takes the claimed deliveries; its lanes say how much room there is.
    pub dispatcher: Dispatcher,
    /// The poller's inbox.
    pub signal: Arc<PollerSignal>,
    /// Kicked when another node signals work (it may be for an endpoint paced here).
    pub pacing: Arc<Pacing>,
    pub claimant: Claimant,
    /// Counts what it claims.
    pub metrics: Arc<DeliveryMetrics>,
    /// How often the poller looks for due work when nothing wakes it.
    pub poll_interval: Duration,
    pub shutdown: CancellationToken,
}

/// Runs until shutdown.
pub(crate) async fn run(poller: Poller) {
    let lanes = poller.dispatcher.lanes();
    let signal = &poller.signal;
    let mut backoff = MIN_BACKOFF;
    loop {
        if poller.shutdown.is_cancelled() {
            return;
        }
        let (room, exclude) = lanes.room();
        let limit = room.min(BATCH);
        if limit < BATCH {
            // Due work may be left behind; look again as soon as room frees up.
            signal.wants_room.store(true, Ordering::Release);
        }
        // Outcomes written from here on lower the hint again. With no room the hint is moot
        // (freed room wakes the poller) and keeping a past one would spin.
        signal.next_due.store(i64::MAX, Ordering::Release);
        let mut full_batch = false;
        if limit == 0 {
            // Nothing the poller can do: the dispatcher owes the room.
            signal.heartbeat.progress();
        }
        if limit > 0 {
            let now = Timestamp::now();
            let claimed = poller
                .store
                .claim_due(
                    now,
                    limit as u32,
                    poller.claimant.lease_until(now),
                    &poller.claimant.node_id,
                    &exclude,
                )
                .await;
            match claimed {
                Ok(batch) => {
                    backoff = MIN_BACKOFF;
                    signal.heartbeat.progress();
                    full_batch = batch.len() == limit;
                    let taken_over = batch.iter().filter(|c| c.taken_over).count();
                    poller.metrics.claimed(batch.len(), taken_over);
                    if !batch.is_empty() {
                        tracing::debug!(count = batch.len(), "claimed due deliveries");
                        poller.dispatcher.enqueue(&[], batch);
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, retry_in_ms = backoff.as_millis() as u64, "claiming due deliveries failed");
                    let pause = backoff;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    tokio::select! {
                        _ = poller.shutdown.cancelled() => return,
                        _ = tokio::time::sleep(pause) => continue,
                    }
                }
            }
        }
        if full_batch {
            // More is probably due; let other tasks run, then claim again.
            tokio::task::yield_now().await;
            continue;
        }
        if limit > 0 {
            learn_next_due(&poller).await;
        }
        if !wait(&poller).await {
            return;
        }
    }
}

/// Asks the store when the next pending destination is due (retries written by other
/// nodes, say), so the poller need not wait a whole interval for it.
async fn learn_next_due(poller: &Poller) {
    match poller.store.next_due_at().await {
        Ok(Some(at)) if at > Timestamp::now() => {
            poller.signal.heartbeat.settle(Some(at));
            poller.signal.due_at(at);
        }
        // Due already but not claimed: its endpoint's lane is full; room will wake us (the
        // dispatcher owes it, not the poller).
        Ok(_) => poller.signal.heartbeat.settle(None),
        Err(e) => tracing::debug!(error = %e, "reading the next due time failed"),
    }
}

/// Sleeps until the poll interval passes, the earliest known due time arrives or someone
/// wakes the poller. Returns `false` on shutdown.
async fn wait(poller: &Poller) -> bool {
    let interval_end = Instant::now() + poller.poll_interval;
    let other_nodes = poller.store.due_signal();
    let signal = &poller.signal;
    loop {
        let hint = signal.next_due.load(Ordering::Acquire);
        let until_hint = hint.saturating_sub(Timestamp::now().as_millis()).max(0) as u64;
        let now = Instant::now();
        let deadline = if until_hint >= millis(poller.poll_interval) as u64 {
            interval_end
        } else {
            interval_end.min(now + Duration::from_millis(until_hint))
        };
        tokio::select! {
            _ = poller.shutdown.cancelled() => return false,
            _ = signal.wake.notified() => return true,
            _ = notified(other_nodes.as_deref()) => {
                // Another node's work may be for a flow-controlled endpoint owned here.
                poller.pacing.kick_all();
                return true;
            }
            _ = tokio::time::sleep_until(deadline) => return true,
            // The hint moved earlier; recompute the deadline.
            _ = signal.hint_changed.notified() => {}
        }
    }
}

/// Resolves when the store signals work made due by another process; never without one.
async fn notified(signal: Option<&tokio::sync::Notify>) {
    match signal {
        Some(n) => n.notified().await,
        None => std::future::pending().await,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
