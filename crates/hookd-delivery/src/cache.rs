//! A short-lived cache of endpoints, so a burst of deliveries to one endpoint costs one read.
//!
//! Entries live at most `ttl` (≤ 1 s), which bounds how long a change made through another
//! node takes to apply here; changes made through this node invalidate explicitly. A
//! deleted endpoint is cached as absent too. Reads racing an invalidation never store the
//! stale value they fetched (a generation counter tells).

use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::Endpoint;
use hookd_store::{Store, StoreError, StoreResult};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Entries beyond this count trigger a sweep of expired ones.
const SWEEP_ABOVE: usize = 4096;

type Key = (AppId, EndpointId);

struct Entry {
    fetched: Instant,
    /// `None` when the endpoint does not exist (deleted).
    endpoint: Option<Arc<Endpoint>>,
}

pub(crate) struct EndpointCache {
    ttl: Duration,
    entries: Mutex<HashMap<Key, Entry>>,
    /// Bumped by every invalidation; a fetch started before one is not stored.
    generation: AtomicU64,
}

impl EndpointCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            ttl,
            entries: Mutex::new(HashMap::new()),
            generation: AtomicU64::new(0),
        }
    }

    /// The endpoint, `None` if it no longer exists. Store errors other than `NotFound` pass
    /// through and are not cached.
    pub async fn get(
        &self,
        store: &dyn Store,
        app: &AppId,
        id: &EndpointId,
    ) -> StoreResult<Option<Arc<Endpoint>>> {
        let key = (app.clone(), id.clone());
        if let Some(e) = self.lock().get(&key) {
            if e.fetched.elapsed() < self.ttl {
                return Ok(e.endpoint.clone());
            }
        }
        let generation = self.generation.load(Ordering::Acquire);
        let fetched = Instant::now();
        let endpoint = match store.get_endpoint(app, id.as_str()).await {
            Ok(ep) => Some(Arc::new(ep)),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        let mut entries = self.lock();
        if self.generation.load(Ordering::Acquire) == generation {
            if entries.len() >= SWEEP_ABOVE {
                let ttl = self.ttl;
                entries.retain(|_, e| e.fetched.elapsed() < ttl);
            }
            entries.insert(
                key,
                Entry {
                    fetched,
                    endpoint: endpoint.clone(),
                },
            );
        }
        Ok(endpoint)
    }

    /// Forgets one endpoint.
    pub fn invalidate(&self, app: &AppId, id: &EndpointId) {
        let mut entries = self.lock();
        self.generation.fetch_add(1, Ordering::AcqRel);
        entries.remove(&(app.clone(), id.clone()));
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<Key, Entry>> {
        // A panic while holding the lock cannot leave the map inconsistent.
        self.entries.lock().unwrap_or_else(|p| p.into_inner())
    }
}
