//! A tiny per-application cache of endpoints for message fan-out (the hot path).
//!
//! Entries live at most [`TTL`]; this node drops an app's entry whenever one of its
//! endpoints (or the app) changes, so only changes made through *other* nodes can be seen
//! late, by at most the TTL. A generation counter keeps a read that raced with an
//! invalidation from re-inserting what it read before the change.

use hookd_core::ids::AppId;
use hookd_core::model::Endpoint;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(1);
/// Most applications cached at once; the map is cleared when full (cheap, and rare).
const MAX_APPS: usize = 4096;

/// Taken before a store read by [`EndpointCache::generation`].
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket {
    generation: u64,
    started: Instant,
}

/// Shared handle; cheap to clone.
#[derive(Clone, Default)]
pub struct EndpointCache {
    inner: Arc<Inner>,
}

/// When an entry was read, and what.
type Entry = (Instant, Arc<Vec<Endpoint>>);

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    map: Mutex<HashMap<AppId, Entry>>,
}

impl EndpointCache {
    /// The app's endpoints if cached and fresh.
    pub fn get(&self, app: &AppId) -> Option<Arc<Vec<Endpoint>>> {
        let map = self.inner.map.lock().ok()?;
        let (at, eps) = map.get(app)?;
        (at.elapsed() < TTL).then(|| eps.clone())
    }

    /// Call before reading from the store; pass the value to [`EndpointCache::insert`].
    /// It also notes when the read started: an entry's age counts from then, so nothing
    /// older than [`TTL`] is ever served, however long the read took.
    pub fn generation(&self) -> ReadTicket {
        ReadTicket {
            generation: self.inner.generation.load(Ordering::Acquire),
            started: Instant::now(),
        }
    }

    /// Caches what was read, unless something was invalidated since the ticket was taken.
    pub fn insert(&self, app: &AppId, ticket: ReadTicket, eps: Arc<Vec<Endpoint>>) {
        let Ok(mut map) = self.inner.map.lock() else {
            return;
        };
        if self.inner.generation.load(Ordering::Acquire) != ticket.generation {
            return;
        }
        if map.len() >= MAX_APPS {
            map.clear();
        }
        map.insert(app.clone(), (ticket.started, eps));
    }

    /// Forgets an app's endpoints after any endpoint change.
    pub fn invalidate(&self, app: &AppId) {
        if let Ok(mut map) = self.inner.map.lock() {
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            map.remove(app);
        }
    }
}
