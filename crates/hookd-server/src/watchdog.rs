//! The watchdog: notices a part of the node that owes work but makes no progress.
//!
//! Every long-running part keeps a [`Heartbeat`] (see `hookd_core::liveness`): the
//! engine's `poller` (due deliveries to claim), `dispatcher` (deliveries queued for a
//! worker), `recorder` (outcomes to write) and `flow` (claims for flow-controlled
//! endpoints), the store's `writer` (the group commit that writes messages and ingest
//! events) and the retention `cleaner`. A part that has owed work for longer than
//! `stall_after` without progress is *stalled*. The watchdog looks several times per
//! `stall_after` and reports each change four ways:
//! - the log: an `error` line when a part stalls, an `info` line when it recovers;
//! - `/metrics`: `hookd_part_stalled{part}` (0 or 1) and `hookd_stalls_total{part}`;
//! - `GET /api/v1/health` (and `/health/ready`): 503 `degraded`, the part named `stalled`;
//! - an operational webhook, `hookd.node.stalled` / `hookd.node.recovered` (when those are
//!   configured; stored once the store takes writes again if it is the store that stalls).
//!
//! It restarts nothing: every part retries its own store calls under the database
//! deadline, so what stalls them (a frozen or unreachable database, a full disk, a hung
//! receiver pool) is outside the process, and a restarted part would stall the same way.
//! The signals are for the operator; the parts resume by themselves when the cause goes.

use hookd_core::liveness::Heartbeat;
use hookd_core::metrics::{Exposition, Kind};
use hookd_core::Timestamp;
use hookd_delivery::{Engine, NodeEvent};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// The parts watched, and what the watchdog last concluded about each.
pub struct Watchdog {
    parts: Vec<Arc<Heartbeat>>,
    patience: Duration,
    state: Mutex<BTreeMap<&'static str, PartState>>,
}

#[derive(Clone, Copy, Default)]
struct PartState {
    stalled: bool,
    stalls: u64,
}

/// A part that stalled or recovered at a check.
#[derive(Clone, Debug, PartialEq)]
pub struct Change {
    pub part: &'static str,
    pub stalled: bool,
    /// How long it had owed work without progress.
    pub owed_for: Duration,
}

impl Watchdog {
    /// Watches `parts`, calling one stalled after `patience` without progress.
    pub fn new(parts: Vec<Arc<Heartbeat>>, patience: Duration) -> Watchdog {
        let state = parts
            .iter()
            .map(|p| (p.name(), PartState::default()))
            .collect();
        Watchdog {
            parts,
            patience,
            state: Mutex::new(state),
        }
    }

    /// Looks at every part at `now`; returns the parts that stalled or recovered since the
    /// last look.
    pub fn check(&self, now: Timestamp) -> Vec<Change> {
        let mut state = self.lock();
        let mut changes = Vec::new();
        for part in &self.parts {
            let owed_for = part.owing_for(now).unwrap_or_default();
            let stalled = owed_for > self.patience;
            let s = state.entry(part.name()).or_default();
            if stalled != s.stalled {
                s.stalled = stalled;
                if stalled {
                    s.stalls += 1;
                }
                changes.push(Change {
                    part: part.name(),
                    stalled,
                    owed_for,
                });
            }
        }
        changes
    }

    /// Every watched part and whether it is stalled, in name order.
    pub fn parts(&self) -> Vec<(&'static str, bool)> {
        self.lock().iter().map(|(p, s)| (*p, s.stalled)).collect()
    }

    /// Whether any part is stalled.
    pub fn any_stalled(&self) -> bool {
        self.lock().values().any(|s| s.stalled)
    }

    /// `hookd_part_stalled` and `hookd_stalls_total`, by part.
    pub fn encode(&self, out: &mut Exposition) {
        let state = self.lock();
        out.family(
            "hookd_part_stalled",
            "1 while a part of the node owes work and has made no progress for stall_after, \
             else 0.",
            Kind::Gauge,
        );
        for (part, s) in state.iter() {
            out.sample(
                "hookd_part_stalled",
                &[("part", part)],
                if s.stalled { 1.0 } else { 0.0 },
            );
        }
        out.family(
            "hookd_stalls_total",
            "Times a part of the node stalled.",
            Kind::Counter,
        );
        for (part, s) in state.iter() {
            out.sample("hookd_stalls_total", &[("part", part)], s.stalls as f64);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, PartState>> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Checks `watchdog` until `stop`, reporting every change in the log and as a node event.
pub fn spawn(
    watchdog: Arc<Watchdog>,
    engine: Engine,
    stop: CancellationToken,
) -> tokio::task::JoinHandle<()> {
    let every = (watchdog.patience / 4).clamp(Duration::from_millis(100), Duration::from_secs(5));
    tokio::spawn(async move {
        loop {
            tokio::select! {
                () = stop.cancelled() => return,
                () = tokio::time::sleep(every) => {}
            }
            let now = Timestamp::now();
            for change in watchdog.check(now) {
                report(&engine, &change, now);
            }
        }
    })
}

fn report(engine: &Engine, change: &Change, now: Timestamp) {
    let owed_for_s = change.owed_for.as_secs_f64();
    if change.stalled {
        tracing::error!(
            part = change.part,
            owed_for_s,
            "a part of this node has owed work without progress for longer than stall_after: stalled"
        );
    } else {
        tracing::info!(
            part = change.part,
            "a stalled part made progress again: recovered"
        );
    }
    engine.report_node(NodeEvent {
        stalled: change.stalled,
        node_id: engine.node_id().to_owned(),
        part: change.part,
        owed_for: change.owed_for,
        at: now,
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_stalls_once_and_recovers_once() {
        let poller = Arc::new(Heartbeat::new("poller"));
        let idle = Arc::new(Heartbeat::new("cleaner"));
        let dog = Watchdog::new(vec![poller.clone(), idle], Duration::from_secs(10));
        let now = Timestamp::now();
        poller.owe(now.plus_millis(-1_000));
        assert!(dog.check(now).is_empty(), "owed for a second only");
        let later = now.plus_millis(15_000);
        let changes = dog.check(later);
        assert_eq!(changes.len(), 1);
        assert_eq!((changes[0].part, changes[0].stalled), ("poller", true));
        assert!(
            dog.check(later.plus_millis(1_000)).is_empty(),
            "reported once"
        );
        assert!(dog.any_stalled());
        poller.settle(None);
        let changes = dog.check(later.plus_millis(2_000));
        assert_eq!((changes[0].part, changes[0].stalled), ("poller", false));
        assert_eq!(dog.parts(), [("cleaner", false), ("poller", false)]);
        let mut out = Exposition::new();
        dog.encode(&mut out);
        let text = out.finish();
        assert!(
            text.contains("hookd_stalls_total{part=\"poller\"} 1\n"),
            "{text}"
        );
        assert!(
            text.contains("hookd_part_stalled{part=\"poller\"} 0\n"),
            "{text}"
        );
    }
}
