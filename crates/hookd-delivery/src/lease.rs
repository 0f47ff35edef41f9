//! Lease renewal: while this node holds a destination (queued in memory or in flight), it
//! keeps extending the destination's lease in the store, so no other node (and not this
//! node's own poller) claims it while this node is healthy.
//!
//! Every `lease / 3` the renewer snapshots the held keys and extends their leases to
//! `now + lease`, in chunks. Only after the store confirms does the in-memory copy of a
//! queued destination learn its new expiry; if renewals keep failing (the database is
//! down), queued work reaches its old expiry and is dropped from memory before it is sent
//! (see `dispatcher::lease_still_valid`), because another node may have taken it by then.

use crate::engine::Shared;
use hookd_core::Timestamp;
use std::sync::Arc;
use std::time::Duration;

/// Most keys renewed per store call.
const CHUNK: usize = 1_000;

/// Runs until shutdown.
pub(crate) async fn run(shared: Arc<Shared>) {
    let period = (shared.config.lease / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = shared.shutdown.cancelled() => return,
            _ = tick.tick() => renew_once(&shared).await,
        }
    }
}

/// Renews the leases of everything held right now.
pub(crate) async fn renew_once(shared: &Shared) {
    let keys = shared.lanes.held_keys();
    if keys.is_empty() {
        return;
    }
    let lease_ms = i64::try_from(shared.config.lease.as_millis()).unwrap_or(i64::MAX);
    let until = Timestamp::now().plus_millis(lease_ms);
    let owner = &shared.config.node_id;
    let mut renewed = 0u64;
    for chunk in keys.chunks(CHUNK) {
        match shared.store.renew_leases(owner, chunk, until).await {
            Ok(n) => {
                renewed += n;
                shared.lanes.extend_queued_leases(chunk, until);
            }
            Err(e) => {
                tracing::warn!(error = %e, held = keys.len(), "renewing delivery leases failed; will try again");
                return;
            }
        }
    }
    tracing::debug!(held = keys.len(), renewed, "renewed delivery leases");
}
