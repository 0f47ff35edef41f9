//! The ingest run's ledger: one slot per event index, holding when its send started,
//! when and as which hookd message (`x-hookd-msg-id`) it was acknowledged, and its first
//! forward to each ingest endpoint; plus the counters of everything that went wrong.
//!
//! Senders and the forwarding receiver write in either order (a forward can arrive
//! before its `204` is read), so whichever half comes second completes the pair.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::Instant;

/// The shared ledger.
pub struct Ledger {
    slots: Box<[Mutex<Slot>]>,
    /// Ingest endpoints every event is forwarded to.
    endpoints: u32,
    /// Events acknowledged with `204` (the first time).
    accepted: AtomicU64,
    /// Accepted (event, endpoint) pairs that arrived: complete at `accepted * endpoints`.
    forwarded: AtomicU64,
    /// Counters of [`Faults`].
    faults: [AtomicU64; FAULTS],
    /// Every answer other than `204` by status, retried ones included.
    statuses: Mutex<BTreeMap<u16, u64>>,
    /// The latest detail of each kind of fault that has one, for the report.
    notes: Mutex<BTreeMap<&'static str, String>>,
}

#[derive(Default)]
struct Slot {
    /// When the event was due to be sent.
    started: Option<Instant>,
    /// When its first `204` was read.
    acked: Option<Instant>,
    /// The `x-hookd-msg-id` of that `204`.
    msg_id: Option<Box<str>>,
    /// The first forward to each endpoint: endpoint, `webhook-id`, arrival.
    arrivals: Vec<(u32, Box<str>, Instant)>,
}

/// Things that go wrong, each counted.
#[derive(Debug, Clone, Copy)]
pub enum Fault {
    /// A forward arrived again with the same `webhook-id` (an at-least-once redelivery).
    Duplicate,
    /// A forward arrived with a different `webhook-id` than the event's first one: the
    /// event was stored twice (de-duplication failed).
    DoubleStored,
    /// A forward's Standard Webhooks signature did not verify.
    BadSignature,
    /// A forward's body was not byte-identical to what was sent.
    BadBody,
    /// A forward lacked a header it must carry, or had a wrong value in it.
    BadHeader,
    /// A forward whose provider event id is not one of this run's.
    Unknown,
    /// A replay answered `204` with `x-hookd-duplicate: true` and the first message id.
    ReplayAcknowledged,
    /// A replay answered anything else.
    ReplayWrong,
    /// A first send answered as a duplicate of an event never sent before.
    FalseDuplicate,
    /// An event finally refused (a 4xx other than 404 and 429).
    Refused,
}

/// Number of [`Fault`]s: `Refused` is the last.
const FAULTS: usize = Fault::Refused as usize + 1;

impl Fault {
    /// The fault's snake_case name, as in the JSON report.
    pub fn name(self) -> &'static str {
        match self {
            Fault::Duplicate => "duplicate",
            Fault::DoubleStored => "double_stored",
            Fault::BadSignature => "bad_signature",
            Fault::BadBody => "bad_body",
            Fault::BadHeader => "bad_header",
            Fault::Unknown => "unknown",
            Fault::ReplayAcknowledged => "replay_acknowledged",
            Fault::ReplayWrong => "replay_wrong",
            Fault::FalseDuplicate => "false_duplicate",
            Fault::Refused => "refused",
        }
    }
}

/// The counters, for progress lines.
#[derive(Debug, Clone, Copy, Default)]
pub struct Progress {
    /// Events acknowledged with `204`.
    pub accepted: u64,
    /// Accepted (event, endpoint) pairs forwarded.
    pub forwarded: u64,
}

/// What the ledger says at the end of a run.
#[derive(Debug, Default)]
pub struct Summary {
    pub accepted: u64,
    /// Accepted (event, endpoint) pairs forwarded.
    pub forwarded: u64,
    /// Accepted pairs never forwarded.
    pub lost: u64,
    /// Forwards for events whose `204` never came (e.g. cut off by the deadline).
    pub unconfirmed_forwards: u64,
    /// Accepted events whose forward carried another `webhook-id` than the `204`'s
    /// `x-hookd-msg-id`; counted with [`Fault::DoubleStored`] in `double_stored`.
    pub double_stored: u64,
    /// Send start to `204`, per accepted event, in microseconds, sorted.
    pub ack_us: Vec<u64>,
    /// Send start to the first forward, per forwarded pair, in microseconds, sorted.
    pub forward_us: Vec<u64>,
    pub last_ack: Option<Instant>,
    pub last_forward: Option<Instant>,
}

impl Ledger {
    /// A ledger for events `0..events` forwarded to `endpoints` endpoints.
    pub fn new(events: u64, endpoints: u32) -> Self {
        Self {
            slots: (0..events).map(|_| Mutex::default()).collect(),
            endpoints,
            accepted: AtomicU64::new(0),
            forwarded: AtomicU64::new(0),
            faults: Default::default(),
            statuses: Mutex::default(),
            notes: Mutex::default(),
        }
    }

    fn slot(&self, index: u64) -> Option<MutexGuard<'_, Slot>> {
        // A poisoned slot only means another thread panicked mid-update; the run reports
        // whatever it has.
        let slot = self.slots.get(usize::try_from(index).ok()?)?;
        Some(slot.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// Records that event `index`, due at `started`, was acknowledged at `at` as `msg_id`.
    /// Only the first acknowledgement counts.
    pub fn accept(&self, index: u64, msg_id: &str, started: Instant, at: Instant) {
        let Some(mut slot) = self.slot(index) else {
            return;
        };
        if slot.acked.is_some() {
            return;
        }
        slot.started = Some(started);
        slot.acked = Some(at);
        slot.msg_id = Some(msg_id.into());
        let early = slot.arrivals.len() as u64;
        drop(slot);
        self.accepted.fetch_add(1, Ordering::Relaxed);
        self.forwarded.fetch_add(early, Ordering::Relaxed);
    }

    /// Records a correctly signed, byte-exact forward of event `index` to `endpoint`.
    pub fn arrive(&self, index: u64, endpoint: u32, webhook_id: &str, at: Instant) {
        let Some(mut slot) = self.slot(index) else {
            self.count(Fault::Unknown);
            return;
        };
        if let Some((_, first, _)) = slot.arrivals.iter().find(|a| a.0 == endpoint) {
            let fault = if **first == *webhook_id {
                Fault::Duplicate
            } else {
                Fault::DoubleStored
            };
            drop(slot);
            self.count(fault);
            return;
        }
        slot.arrivals.push((endpoint, webhook_id.into(), at));
        let acked = slot.acked.is_some();
        drop(slot);
        if acked {
            self.forwarded.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Counts one `fault`.
    pub fn count(&self, fault: Fault) {
        self.faults[fault as usize].fetch_add(1, Ordering::Relaxed);
    }

    /// How many times `fault` happened.
    pub fn faults(&self, fault: Fault) -> u64 {
        self.faults[fault as usize].load(Ordering::Relaxed)
    }

    /// Keeps `detail` as the latest example of `fault` (not counted; see [`Self::count`]).
    pub fn note(&self, fault: Fault, detail: String) {
        let mut notes = self.notes.lock().unwrap_or_else(|e| e.into_inner());
        notes.insert(fault.name(), detail);
    }

    /// The latest detail of each noted fault, by fault name.
    pub fn notes(&self) -> BTreeMap<&'static str, String> {
        self.notes.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    /// Counts an answer other than `204`.
    pub fn status(&self, code: u16) {
        let mut statuses = self.statuses.lock().unwrap_or_else(|e| e.into_inner());
        *statuses.entry(code).or_default() += 1;
    }

    /// Answers other than `204`, by status.
    pub fn statuses(&self) -> BTreeMap<u16, u64> {
        self.statuses
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// The live counters.
    pub fn progress(&self) -> Progress {
        Progress {
            accepted: self.accepted.load(Ordering::Relaxed),
            forwarded: self.forwarded.load(Ordering::Relaxed),
        }
    }

    /// Whether every accepted event reached every endpoint.
    pub fn drained(&self) -> bool {
        let p = self.progress();
        p.forwarded >= p.accepted * u64::from(self.endpoints)
    }

    /// Walks every slot: latencies, losses, double stores.
    pub fn summarize(&self) -> Summary {
        let mut s = Summary::default();
        for slot in self.slots.iter() {
            let slot = slot.lock().unwrap_or_else(|e| e.into_inner());
            let (Some(started), Some(acked)) = (slot.started, slot.acked) else {
                s.unconfirmed_forwards += slot.arrivals.len() as u64;
                continue;
            };
            s.accepted += 1;
            s.ack_us.push(micros(acked, started));
            s.last_ack = s.last_ack.max(Some(acked));
            for endpoint in 0..self.endpoints {
                match slot.arrivals.iter().find(|a| a.0 == endpoint) {
                    Some((_, webhook_id, at)) => {
                        s.forwarded += 1;
                        s.forward_us.push(micros(*at, started));
                        s.last_forward = s.last_forward.max(Some(*at));
                        if slot.msg_id.as_deref() != Some(&**webhook_id) {
                            s.double_stored += 1;
                        }
                    }
                    None => s.lost += 1,
                }
            }
        }
        s.double_stored += self.faults(Fault::DoubleStored);
        s.ack_us.sort_unstable();
        s.forward_us.sort_unstable();
        s
    }
}

fn micros(at: Instant, since: Instant) -> u64 {
    u64::try_from(at.saturating_duration_since(since).as_micros()).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_pair_completes_whichever_half_comes_first() {
        let ledger = Ledger::new(4, 2);
        let t0 = Instant::now();
        let ms = |n| t0 + Duration::from_millis(n);
        ledger.arrive(1, 0, "msg_a", ms(3));
        assert_eq!(ledger.progress().forwarded, 0, "not acknowledged yet");
        ledger.accept(1, "msg_a", t0, ms(2));
        assert_eq!(ledger.progress().forwarded, 1);
        assert!(!ledger.drained(), "endpoint 1 still waits");
        ledger.arrive(1, 1, "msg_a", ms(5));
        assert!(ledger.drained());

        let s = ledger.summarize();
        assert_eq!(
            (s.accepted, s.forwarded, s.lost, s.double_stored),
            (1, 2, 0, 0)
        );
        assert_eq!(s.ack_us, vec![2_000]);
        assert_eq!(s.forward_us, vec![3_000, 5_000]);
    }

    #[test]
    fn redeliveries_are_duplicates_and_a_second_message_is_a_double_store() {
        let ledger = Ledger::new(3, 1);
        let t0 = Instant::now();
        ledger.accept(0, "msg_a", t0, t0);
        ledger.arrive(0, 0, "msg_a", t0);
        ledger.arrive(0, 0, "msg_a", t0);
        ledger.arrive(0, 0, "msg_b", t0);
        ledger.accept(1, "msg_c", t0, t0);
        ledger.arrive(1, 0, "msg_d", t0);
        ledger.accept(2, "msg_e", t0, t0);
        ledger.arrive(9, 0, "msg_f", t0);
        assert_eq!(ledger.faults(Fault::Duplicate), 1);
        assert_eq!(ledger.faults(Fault::Unknown), 1, "index out of range");
        let s = ledger.summarize();
        assert_eq!(
            s.double_stored, 2,
            "msg_b after msg_a; msg_d instead of msg_c"
        );
        assert_eq!(s.lost, 1, "event 2 never arrived");
    }

    #[test]
    fn only_the_first_acknowledgement_counts() {
        let ledger = Ledger::new(1, 1);
        let t0 = Instant::now();
        ledger.accept(0, "msg_a", t0, t0 + Duration::from_millis(1));
        ledger.accept(0, "msg_a", t0, t0 + Duration::from_millis(9));
        assert_eq!(ledger.progress().accepted, 1);
        assert_eq!(ledger.summarize().ack_us, vec![1_000]);
        ledger.status(503);
        ledger.status(503);
        ledger.status(401);
        assert_eq!(ledger.statuses(), BTreeMap::from([(401, 1), (503, 2)]));
    }
}
