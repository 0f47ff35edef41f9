//! A tiny cache for message fan-out (the hot path): per application key (the id or uid a
//! request named), the application and all its endpoints.
//!
//! Entries live at most [`TTL`], counted from the start of the read that filled them.
//! This node drops an app's entries whenever the app or one of its endpoints changes, so
//! only changes made through *other* nodes can be seen late, by at most the TTL. A
//! generation counter keeps a read that raced with an invalidation from re-inserting what
//! it read before the change.

use hookd_core::ids::AppId;
use hookd_core::model::{Application, Endpoint};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(1);
/// Most keys cached at once; the map is cleared when full (cheap, and rare).
const MAX_KEYS: usize = 4096;

/// What a message needs to fan out.
#[derive(Debug)]
pub struct FanOut {
    pub app: Application,
    /// Every endpoint of the app, enabled or not.
    pub endpoints: Vec<Endpoint>,
}

/// Taken before a store read by [`FanOutCache::ticket`].
#[derive(Clone, Copy, Debug)]
pub struct ReadTicket {
    generation: u64,
    started: Instant,
}

/// Shared handle; cheap to clone.
#[derive(Clone, Default)]
pub struct FanOutCache {
    inner: Arc<Inner>,
}

/// When an entry's read started, and what it read.
type Entry = (Instant, Arc<FanOut>);

#[derive(Default)]
struct Inner {
    generation: AtomicU64,
    map: Mutex<HashMap<String, Entry>>,
}

impl FanOutCache {
    /// The entry for `key` (an app id or uid) if cached and fresh.
    pub fn get(&self, key: &str) -> Option<Arc<FanOut>> {
        let map = self.inner.map.lock().ok()?;
        let (at, entry) = map.get(key)?;
        (at.elapsed() < TTL).then(|| entry.clone())
    }

    /// Call before reading from the store; pass the value to [`FanOutCache::insert`]. It
    /// notes when the read started, so nothing older than [`TTL`] is ever served however
    /// long the read took.
    pub fn ticket(&self) -> ReadTicket {
        ReadTicket {
            generation: self.inner.generation.load(Ordering::Acquire),
            started: Instant::now(),
        }
    }

    /// Caches what was read, unless something was invalidated since the ticket was taken.
    pub fn insert(&self, key: &str, ticket: ReadTicket, entry: Arc<FanOut>) {
        let Ok(mut map) = self.inner.map.lock() else {
            return;
        };
        if self.inner.generation.load(Ordering::Acquire) != ticket.generation {
            return;
        }
        if map.len() >= MAX_KEYS {
            map.clear();
        }
        map.insert(key.to_owned(), (ticket.started, entry));
    }

    /// Forgets an app after it or any of its endpoints changed (under every key).
    pub fn invalidate(&self, app: &AppId) {
        if let Ok(mut map) = self.inner.map.lock() {
            self.inner.generation.fetch_add(1, Ordering::AcqRel);
            map.retain(|_, (_, entry)| entry.app.id != *app);
        }
    }
}
