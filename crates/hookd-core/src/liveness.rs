//! [`Heartbeat`]: how a long-running part of hookd (the poller, the dispatcher, the
//! recorder, the store's writer, ...) says that it makes progress, and whether it owes
//! work. A watchdog reads every heartbeat and calls a part stalled when it has owed work
//! for longer than its patience without making progress.
//!
//! A part owes work in one of two ways, whichever fits what it knows:
//! - it holds `pending` items (queued deliveries, outcomes or writes): owed from the
//!   moment the count left zero, or from its last progress since;
//! - it knows work is due at a time ([`Heartbeat::owe`], the poller's earliest due
//!   delivery): owed from that time, or from its last progress since.
//!
//! Atomics only: beating costs a clock read and a store.

use crate::Timestamp;
use std::sync::atomic::{AtomicI64, Ordering};

/// No work is known to be due.
const NOTHING_OWED: i64 = i64::MAX;

/// One part's progress and owed work.
#[derive(Debug)]
pub struct Heartbeat {
    name: &'static str,
    /// Milliseconds since the epoch of the last progress.
    progress_at: AtomicI64,
    /// Items the part holds and has not finished.
    pending: AtomicI64,
    /// The earliest time work is known to be due, or [`NOTHING_OWED`].
    owed_from: AtomicI64,
}

impl Heartbeat {
    /// A part named `name` (the label it is reported under), idle.
    pub fn new(name: &'static str) -> Heartbeat {
        Heartbeat {
            name,
            progress_at: AtomicI64::new(Timestamp::now().as_millis()),
            pending: AtomicI64::new(0),
            owed_from: AtomicI64::new(NOTHING_OWED),
        }
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The part did a unit of work (or found there was none to do).
    pub fn progress(&self) {
        self.progress_at
            .store(Timestamp::now().as_millis(), Ordering::Relaxed);
    }

    /// The part took on `n` items (negative: finished them). Taking work on when idle
    /// starts the clock afresh: time spent with nothing to do is no stall.
    pub fn add_pending(&self, n: i64) {
        if self.pending.fetch_add(n, Ordering::Relaxed) <= 0 && n > 0 {
            self.progress();
        }
    }

    /// Work is due at `at`: owed from then unless the part progresses after it.
    pub fn owe(&self, at: Timestamp) {
        self.owed_from.fetch_min(at.as_millis(), Ordering::Relaxed);
    }

    /// Everything owed so far was done; `next` is when more is due, if known.
    pub fn settle(&self, next: Option<Timestamp>) {
        self.owed_from.store(
            next.map_or(NOTHING_OWED, Timestamp::as_millis),
            Ordering::Relaxed,
        );
        self.progress();
    }

    /// How long the part has owed work at `now` without progress; `None` when it owes
    /// nothing.
    pub fn owing_for(&self, now: Timestamp) -> Option<std::time::Duration> {
        let now = now.as_millis();
        let progress_at = self.progress_at.load(Ordering::Relaxed);
        let owed_from = self.owed_from.load(Ordering::Relaxed);
        let since = if self.pending.load(Ordering::Relaxed) > 0 {
            progress_at
        } else if owed_from <= now {
            owed_from.max(progress_at)
        } else {
            return None;
        };
        Some(std::time::Duration::from_millis(
            u64::try_from(now - since).unwrap_or(0),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn later(ms: i64) -> Timestamp {
        Timestamp::now().plus_millis(ms)
    }

    #[test]
    fn pending_work_is_owed_from_the_last_progress() {
        let h = Heartbeat::new("recorder");
        assert_eq!(h.owing_for(later(60_000)), None, "idle");
        h.add_pending(2);
        let owing = h.owing_for(later(60_000)).unwrap();
        assert!(owing >= Duration::from_secs(59), "{owing:?}");
        h.add_pending(-2);
        assert_eq!(h.owing_for(later(60_000)), None, "done");
    }

    #[test]
    fn work_due_at_a_time_is_owed_from_then() {
        let h = Heartbeat::new("poller");
        h.settle(Some(later(10_000)));
        assert_eq!(h.owing_for(later(5_000)), None, "not due yet");
        let owing = h.owing_for(later(70_000)).unwrap();
        assert!(
            owing >= Duration::from_secs(59) && owing <= Duration::from_secs(61),
            "{owing:?}"
        );
        h.owe(later(-1_000));
        assert!(h.owing_for(later(0)).is_some());
        h.settle(None);
        assert_eq!(h.owing_for(later(3_600_000)), None);
    }
}
