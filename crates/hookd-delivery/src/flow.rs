//! Flow-controlled endpoints: throttle (`rate_limit`, deliveries per second), concurrency
//! cap (`max_concurrency`) and FIFO order, enforced across the whole cluster.
//!
//! The store marks every destination of such an endpoint; the generic poller never sees
//! marked rows. Instead each endpoint is *owned* by one node at a time (a lease in the
//! store, renewed every second, given up at shutdown, taken over by another node when
//! the owner dies), and only the owner claims its deliveries, here, through
//! `Store::claim_flow`. Because a single node sends everything for the endpoint, the
//! limits are plain local ones, applied by the endpoint's lane in `dispatcher` (with the
//! send slots and idle waits kept in `pacing`, which both sides share): at most
//! `max_concurrency` workers (one for FIFO) and one send slot every `1/rate` seconds.
//! A worker waiting for its slot holds no global permit, so a throttled endpoint never
//! holds up any other.
//!
//! What gets claimed: FIFO, the endpoint's first pending delivery, only when nothing of
//! the endpoint is held here (the store also refuses while it is leased or waits for a
//! retry); otherwise up to about two seconds of throttled work, or the lane's room. An
//! endpoint with nothing more due is left alone until the poll interval passes or
//! something wakes it: one of its outcomes was recorded, a message or resend arrived
//! (the write path kicks the endpoint), or another node signalled new work (the poller
//! passes the store's due signal on). The idle wait doubles while nothing comes, up to
//! five seconds, so a retry of a flow-controlled delivery may start up to that much after
//! it is due. Endpoints that use none of this cost nothing: with no flow-controlled
//! endpoint, this task runs one small query a second.

use crate::dispatcher::Dispatcher;
use crate::lanes::Lanes;
use crate::lease::Claimant;
use crate::metrics::DeliveryMetrics;
use crate::pacing::Pacing;
use hookd_core::liveness::Heartbeat;
use hookd_core::Timestamp;
use hookd_store::{FlowEndpoint, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// How often ownership is renewed and new flow-controlled endpoints are taken.
const REFRESH: Duration = Duration::from_secs(1);
/// Most endpoints newly taken per refresh (the rest are left to other nodes, or the next
/// refresh).
const TAKE_PER_REFRESH: u32 = 256;
/// A throttled endpoint gets about this much work claimed ahead of its send slots.
const THROTTLE_AHEAD_SECS: u64 = 2;
/// Most deliveries claimed per query.
const BATCH: usize = 500;

/// What the flow task works with.
pub(crate) struct FlowTask {
    pub store: Arc<dyn Store>,
    /// Takes the claimed deliveries (and the room they need).
    pub dispatcher: Dispatcher,
    /// The owned endpoints, shared with the dispatcher's lanes.
    pub pacing: Arc<Pacing>,
    pub claimant: Claimant,
    /// Counts what it claims.
    pub metrics: Arc<DeliveryMetrics>,
    /// Its progress, and the claims it owes after a failed one (for the watchdog).
    pub heartbeat: Arc<Heartbeat>,
    /// The shortest idle wait of an endpoint with nothing due.
    pub poll_interval: Duration,
    pub shutdown: CancellationToken,
}

/// Runs until shutdown, then forgets the endpoints (`release` gives them up in the store
/// once deliveries have stopped).
pub(crate) async fn run(task: FlowTask) {
    let mut next_refresh = Instant::now();
    loop {
        if task.shutdown.is_cancelled() {
            break;
        }
        if Instant::now() >= next_refresh {
            refresh(&task).await;
            next_refresh = Instant::now() + REFRESH;
        }
        claim_round(&task).await;
        let wake_at = task
            .pacing
            .earliest_idle_end()
            .map_or(next_refresh, |t| t.min(next_refresh));
        tokio::select! {
            _ = task.shutdown.cancelled() => break,
            _ = task.pacing.wake.notified() => {}
            _ = tokio::time::sleep_until(wake_at) => {}
        }
    }
    task.pacing.clear();
}

/// Gives up this node's endpoints (after its deliveries stopped), so another node takes
/// them at once.
pub(crate) async fn release(store: &dyn Store, claimant: &Claimant) {
    if let Err(e) = store.release_flow_endpoints(&claimant.node_id).await {
        tracing::warn!(error = %e, "giving up flow-controlled endpoints failed; their ownership will expire");
    }
}

/// Renews ownership, takes free endpoints and reads every owned endpoint's settings.
async fn refresh(task: &FlowTask) {
    let now = Timestamp::now();
    let acquired = task
        .store
        .acquire_flow_endpoints(
            &task.claimant.node_id,
            now,
            task.claimant.lease_until(now),
            TAKE_PER_REFRESH,
        )
        .await;
    match acquired {
        Ok(endpoints) => task.pacing.own(endpoints),
        Err(e) => {
            tracing::warn!(error = %e, "renewing flow-controlled endpoints failed; will try again");
        }
    }
}

/// Claims for every owned endpoint that is not idle and has room.
async fn claim_round(task: &FlowTask) {
    let lanes = task.dispatcher.lanes();
    let mut failed = false;
    for settings in task.pacing.awake(Instant::now()) {
        if task.shutdown.is_cancelled() {
            return;
        }
        let want = wanted(&settings, lanes.held_by(&settings.endpoint_id), lanes);
        if want == 0 {
            continue;
        }
        let t = Timestamp::now();
        let claimed = task
            .store
            .claim_flow(
                &settings.endpoint_id,
                settings.fifo,
                t,
                want as u32,
                task.claimant.lease_until(t),
                &task.claimant.node_id,
            )
            .await;
        match claimed {
            Ok(batch) => {
                let got = batch.len();
                let taken_over = batch.iter().filter(|c| c.taken_over).count();
                task.metrics.claimed(got, taken_over);
                if got > 0 {
                    task.dispatcher.enqueue_flow(&settings, batch);
                }
                if got < want {
                    task.pacing.rest(&settings.endpoint_id, task.poll_interval);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, endpoint.id = %settings.endpoint_id, "claiming flow-controlled deliveries failed");
                task.pacing.rest(&settings.endpoint_id, task.poll_interval);
                failed = true;
            }
        }
    }
    // A claim that failed leaves the endpoint's due work owed until a round succeeds.
    if failed {
        task.heartbeat.owe(Timestamp::now());
    } else {
        task.heartbeat.settle(None);
    }
}

/// How many deliveries of an endpoint to claim, with `held` of them held here already.
fn wanted(settings: &FlowEndpoint, held: usize, lanes: &Lanes) -> usize {
    if settings.fifo {
        return usize::from(held == 0);
    }
    let target = settings
        .rate_limit
        .map_or(usize::MAX, |r| {
            (u64::from(r) * THROTTLE_AHEAD_SECS).max(1) as usize
        })
        .min(lanes.max_per_endpoint());
    // Refill once half of what is held has gone (each settled delivery wakes this task, so
    // a full lane is looked at again in time).
    if held * 2 > target {
        0
    } else {
        (target - held).min(lanes.room_total()).min(BATCH)
    }
}
