//! The run's ledger: which messages were accepted (and when their send started), which
//! (message, endpoint) pairs arrived (and when first), and the counters derived from both.
//!
//! Senders and the receiver write to it concurrently and in either order (a delivery can
//! arrive before its 202 is read), so an entry holds both halves and whichever comes
//! second completes the pair. Entries are sharded by a hash of the message id so that the
//! receiver's per-request work is one short critical section on one of many locks.

use crate::routing::{fails_first_attempt, fnv1a, Routing};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

const SHARDS: usize = 128;

/// Entries by message id.
type Shard = HashMap<Box<str>, Entry>;

/// What the receiver should do with a correctly signed delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arrival {
    /// Fail this first attempt (answer 500) so that the server retries.
    FailOnce,
    /// The first successful arrival of this (message, endpoint).
    First,
    /// The pair had already arrived.
    Duplicate,
}

/// The shared ledger.
pub struct Registry {
    shards: Box<[Mutex<Shard>]>,
    routing: Routing,
    /// Fraction of pairs whose first attempt fails (see [`fails_first_attempt`]).
    fail_rate: f64,
    /// Messages answered with 202.
    accepted: AtomicU64,
    /// Accepted pairs that arrived: the run is complete when this is `accepted * fanout`.
    delivered: AtomicU64,
    duplicates: AtomicU64,
    bad_signatures: AtomicU64,
}

#[derive(Default)]
struct Entry {
    /// Set once the sender read the 202.
    sent: Option<Sent>,
    /// One per endpoint that received a request for this message.
    pairs: Vec<Pair>,
}

#[derive(Clone, Copy)]
struct Sent {
    index: u64,
    started: Instant,
}

struct Pair {
    endpoint: u32,
    failed_once: bool,
    arrived: Option<Instant>,
}

/// The counters, for progress lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Messages answered with 202.
    pub accepted: u64,
    /// Accepted pairs that arrived.
    pub delivered: u64,
}

/// What the ledger says at the end of a run.
#[derive(Debug, Default)]
pub struct Summary {
    /// Accepted messages.
    pub accepted: u64,
    /// Accepted pairs that arrived.
    pub delivered: u64,
    /// Accepted pairs that never arrived.
    pub lost: u64,
    /// Extra arrivals of pairs that had already arrived.
    pub duplicates: u64,
    /// Requests whose signature (or signature headers) did not verify.
    pub bad_signatures: u64,
    /// Arrivals at an endpoint the message was not routed to.
    pub misrouted: u64,
    /// Pairs that arrived for messages whose 202 the senders never read (a send that
    /// failed without an answer but was committed, e.g. around a crash).
    pub unconfirmed_arrivals: u64,
    /// Accept-to-arrival of every delivered pair, in microseconds, sorted.
    pub latencies_us: Vec<u64>,
    /// The same for endpoints from `fast_from` on only (those not made slow), sorted.
    pub fast_latencies_us: Vec<u64>,
    /// When the last accepted pair arrived.
    pub last_arrival: Option<Instant>,
}

impl Registry {
    /// An empty ledger for `routing`.
    pub fn new(routing: Routing, fail_rate: f64) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            routing,
            fail_rate,
            accepted: AtomicU64::new(0),
            delivered: AtomicU64::new(0),
            duplicates: AtomicU64::new(0),
            bad_signatures: AtomicU64::new(0),
        }
    }

    fn shard(&self, msg_id: &str) -> MutexGuard<'_, Shard> {
        let i = (fnv1a(msg_id.as_bytes()) % SHARDS as u64) as usize;
        // A poisoned shard only means another thread panicked mid-update of counters
        // that are still usable; the run reports whatever it has.
        self.shards[i].lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Records that message `index`, whose send started at `started`, was accepted as `msg_id`.
    pub fn accept(&self, msg_id: &str, index: u64, started: Instant) {
        let mut shard = self.shard(msg_id);
        if !shard.contains_key(msg_id) {
            shard.insert(msg_id.into(), Entry::default());
        }
        let entry = shard.get_mut(msg_id).expect("inserted above");
        if entry.sent.is_some() {
            return;
        }
        entry.sent = Some(Sent { index, started });
        let early = entry
            .pairs
            .iter()
            .filter(|p| p.arrived.is_some() && self.routing.is_destination(index, p.endpoint))
            .count() as u64;
        drop(shard);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        if early > 0 {
            self.delivered.fetch_add(early, Ordering::Relaxed);
        }
    }

    /// Records a correctly signed request for `(msg_id, endpoint)` at `at`.
    pub fn arrive(&self, msg_id: &str, endpoint: u32, at: Instant) -> Arrival {
        let mut shard = self.shard(msg_id);
        // Look up by `&str` first: allocating the key only for new messages keeps the
        // common case (the sender's 202 came first) allocation-free.
        if !shard.contains_key(msg_id) {
            shard.insert(msg_id.into(), Entry::default());
        }
        let entry = shard.get_mut(msg_id).expect("inserted above");
        let sent = entry.sent;
        let pair = match entry.pairs.iter().position(|p| p.endpoint == endpoint) {
            Some(i) => &mut entry.pairs[i],
            None => {
                entry.pairs.push(Pair {
                    endpoint,
                    failed_once: false,
                    arrived: None,
                });
                entry.pairs.last_mut().expect("just pushed")
            }
        };
        if pair.arrived.is_some() {
            drop(shard);
            self.duplicates.fetch_add(1, Ordering::Relaxed);
            return Arrival::Duplicate;
        }
        if !pair.failed_once && fails_first_attempt(msg_id, endpoint, self.fail_rate) {
            pair.failed_once = true;
            return Arrival::FailOnce;
        }
        pair.arrived = Some(at);
        drop(shard);
        if sent.is_some_and(|s| self.routing.is_destination(s.index, endpoint)) {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Arrival::First
    }

    /// The routing the ledger checks arrivals against.
    pub fn routing(&self) -> Routing {
        self.routing
    }

    /// Counts a request whose signature did not verify.
    pub fn bad_signature(&self) {
        self.bad_signatures.fetch_add(1, Ordering::Relaxed);
    }

    /// The live counters.
    pub fn progress(&self) -> Progress {
        Progress {
            accepted: self.accepted.load(Ordering::Relaxed),
            delivered: self.delivered.load(Ordering::Relaxed),
        }
    }

    /// Walks every entry: latencies, losses, strays. Endpoints `fast_from..` also get
    /// their own latencies, so slow endpoints can be told apart from the rest.
    pub fn summarize(&self, fast_from: u32) -> Summary {
        let mut s = Summary {
            duplicates: self.duplicates.load(Ordering::Relaxed),
            bad_signatures: self.bad_signatures.load(Ordering::Relaxed),
            ..Summary::default()
        };
        for shard in self.shards.iter() {
            let shard = shard.lock().unwrap_or_else(|e| e.into_inner());
            for entry in shard.values() {
                let Some(sent) = entry.sent else {
                    s.unconfirmed_arrivals +=
                        entry.pairs.iter().filter(|p| p.arrived.is_some()).count() as u64;
                    continue;
                };
                s.accepted += 1;
                for endpoint in self.routing.destinations(sent.index) {
                    let arrived = entry
                        .pairs
                        .iter()
                        .find(|p| p.endpoint == endpoint)
                        .and_then(|p| p.arrived);
                    match arrived {
                        Some(at) => {
                            s.delivered += 1;
                            let us = at.saturating_duration_since(sent.started).as_micros();
                            let us = u64::try_from(us).unwrap_or(u64::MAX);
                            s.latencies_us.push(us);
                            if endpoint >= fast_from {
                                s.fast_latencies_us.push(us);
                            }
                            s.last_arrival = s.last_arrival.max(Some(at));
                        }
                        None => s.lost += 1,
                    }
                }
                s.misrouted += entry
                    .pairs
                    .iter()
                    .filter(|p| {
                        p.arrived.is_some() && !self.routing.is_destination(sent.index, p.endpoint)
                    })
                    .count() as u64;
            }
        }
        s.latencies_us.sort_unstable();
        s.fast_latencies_us.sort_unstable();
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_pair_completes_whichever_half_comes_first() {
        let reg = Registry::new(Routing::new(2, 2), 0.0);
        let t0 = Instant::now();
        assert_eq!(
            reg.arrive("msg_a", 0, t0 + Duration::from_millis(5)),
            Arrival::First
        );
        assert_eq!(reg.progress().delivered, 0, "not accepted yet");
        reg.accept("msg_a", 0, t0);
        assert_eq!(reg.progress().delivered, 1);
        assert_eq!(
            reg.arrive("msg_a", 1, t0 + Duration::from_millis(9)),
            Arrival::First
        );
        assert_eq!(reg.progress().delivered, 2);

        let s = reg.summarize(1);
        assert_eq!((s.accepted, s.delivered, s.lost), (1, 2, 0));
        assert_eq!(s.latencies_us, vec![5_000, 9_000]);
        assert_eq!(
            s.fast_latencies_us,
            vec![9_000],
            "endpoint 0 counts as slow"
        );
    }

    #[test]
    fn repeats_are_duplicates_and_missing_pairs_are_lost() {
        let reg = Registry::new(Routing::new(3, 2), 0.0);
        let t0 = Instant::now();
        reg.accept("msg_b", 1, t0);
        assert_eq!(reg.arrive("msg_b", 1, t0), Arrival::First);
        assert_eq!(reg.arrive("msg_b", 1, t0), Arrival::Duplicate);
        assert_eq!(reg.arrive("msg_b", 0, t0), Arrival::First);
        assert_eq!(reg.arrive("msg_x", 0, t0), Arrival::First);
        let s = reg.summarize(0);
        assert_eq!(s.duplicates, 1);
        assert_eq!(s.lost, 1, "endpoint 2 never saw msg_b");
        assert_eq!(
            s.misrouted, 1,
            "endpoint 0 is not a destination of message 1"
        );
        assert_eq!(s.unconfirmed_arrivals, 1);
    }

    #[test]
    fn a_failing_pair_fails_exactly_once() {
        let reg = Registry::new(Routing::new(1, 1), 1.0);
        let t0 = Instant::now();
        reg.accept("msg_c", 0, t0);
        assert_eq!(reg.arrive("msg_c", 0, t0), Arrival::FailOnce);
        assert_eq!(reg.progress().delivered, 0);
        assert_eq!(reg.arrive("msg_c", 0, t0), Arrival::First);
        assert_eq!(reg.progress().delivered, 1);
        assert_eq!(reg.summarize(0).duplicates, 0);
    }
}
