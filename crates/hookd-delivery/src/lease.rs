//! Leases: who claims work and for how long ([`Claimant`]), and their renewal.
//!
//! While this node holds a destination (queued in memory or in flight), it
//! keeps extending the destination's lease in the store, so no other node (and not this
//! node's own poller) claims it while this node is healthy.
//!
//! Every `lease / 3` the renewer snapshots the held keys and extends their leases to
//! `now + lease`, in chunks. Only after the store confirms does the in-memory copy of a
//! queued destination learn its new expiry; if renewals keep failing (the database is
//! down), queued work reaches its old expiry and is dropped from memory before it is sent
//! (see `dispatcher::lease_still_valid`), because another node may have taken it by then.

use crate::lanes::Lanes;
use hookd_core::Timestamp;
use hookd_store::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most keys renewed per store call.
const CHUNK: usize = 1_000;

/// The terms of this node's claims: the owner written on leased rows and how long a
/// lease lasts. Every part that claims or leases work takes its lease ends from here.
#[derive(Clone, Debug)]
pub(crate) struct Claimant {
    /// Names this node in leases.
    pub node_id: String,
    pub lease: Duration,
}

impl Claimant {
    /// When a lease taken at `from` runs out.
    pub fn lease_until(&self, from: Timestamp) -> Timestamp {
        from.plus_millis(i64::try_from(self.lease.as_millis()).unwrap_or(i64::MAX))
    }
}

/// What the renewer works with.
pub(crate) struct Renewer {
    pub store: Arc<dyn Store>,
    /// What this node holds (and where queued copies learn their new expiry).
    pub lanes: Arc<Lanes>,
    pub claimant: Claimant,
    pub shutdown: CancellationToken,
}

/// Runs until shutdown.
pub(crate) async fn run(renewer: Renewer) {
    let period = (renewer.claimant.lease / 3).max(Duration::from_millis(100));
    let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = renewer.shutdown.cancelled() => return,
            _ = tick.tick() => renew_once(&renewer).await,
        }
    }
}

/// Renews the leases of everything held right now.
async fn renew_once(renewer: &Renewer) {
    let keys = renewer.lanes.held_keys();
    if keys.is_empty() {
        return;
    }
    let until = renewer.claimant.lease_until(Timestamp::now());
    let owner = &renewer.claimant.node_id;
    let mut renewed = 0u64;
    for chunk in keys.chunks(CHUNK) {
        match renewer.store.renew_leases(owner, chunk, until).await {
            Ok(n) => {
                renewed += n;
                renewer.lanes.extend_queued_leases(chunk, until);
            }
            Err(e) => {
                tracing::warn!(error = %e, held = keys.len(), "renewing delivery leases failed; will try again");
                return;
            }
        }
    }
    tracing::debug!(held = keys.len(), renewed, "renewed delivery leases");
}
