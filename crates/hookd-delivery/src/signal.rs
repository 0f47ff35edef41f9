//! How the rest of the engine gets the poller's attention: a wake-up, the earliest due
//! time it should know of, and whether it waits for room.
//!
//! A leaf: the poller reads it, and the parts below the poller (the dispatcher freeing
//! room, an attempt scheduling a retry) write it without importing the poller.

use hookd_core::liveness::Heartbeat;
use hookd_core::Timestamp;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use tokio::sync::Notify;

/// The poller's inbox. Shared as an `Arc` by everyone who writes to it.
pub(crate) struct PollerSignal {
    /// Claim now (new unclaimed work was written, or room freed after the poller found
    /// none).
    pub wake: Notify,
    /// The earliest due time known changed; recompute the sleep.
    pub hint_changed: Notify,
    /// The earliest known due time in epoch millis (`i64::MAX` when none is known).
    pub next_due: AtomicI64,
    /// Set by the poller when it left due work unclaimed for lack of room.
    pub wants_room: AtomicBool,
    /// The poller's progress, and the due work it knows of (for the watchdog).
    pub heartbeat: Arc<Heartbeat>,
}

impl PollerSignal {
    pub fn new() -> Self {
        Self {
            wake: Notify::new(),
            hint_changed: Notify::new(),
            next_due: AtomicI64::new(i64::MAX),
            wants_room: AtomicBool::new(false),
            heartbeat: Arc::new(Heartbeat::new("poller")),
        }
    }

    /// Makes sure the poller looks again by `at`.
    pub fn due_at(&self, at: Timestamp) {
        self.heartbeat.owe(at);
        let ms = at.as_millis();
        if self.next_due.fetch_min(ms, Ordering::AcqRel) > ms {
            self.hint_changed.notify_one();
        }
    }

    /// Called whenever room frees up; wakes the poller only if it was waiting for room.
    pub fn room_freed(&self) {
        if self.wants_room.load(Ordering::Relaxed) && self.wants_room.swap(false, Ordering::AcqRel)
        {
            self.wake.notify_one();
        }
    }
}
