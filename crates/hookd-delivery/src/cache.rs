//! A short-lived cache of endpoints, so a burst of deliveries to one endpoint costs one read.
//!
//! A [`TtlCache`]: entries live at most `ttl` (≤ 1 s), which bounds how long a change made
//! through another node takes to apply here; changes made through this node invalidate
//! explicitly. A deleted endpoint is cached as absent too.

use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::Endpoint;
use hookd_store::{Store, StoreError, StoreResult, TtlCache};
use std::sync::Arc;
use std::time::Duration;

/// Most endpoints cached at once.
const MAX_ENTRIES: usize = 4096;

pub(crate) struct EndpointCache {
    /// `None` when the endpoint does not exist (deleted).
    entries: TtlCache<(AppId, EndpointId), Option<Arc<Endpoint>>>,
}

impl EndpointCache {
    pub fn new(ttl: Duration) -> Self {
        Self {
            entries: TtlCache::new(ttl, MAX_ENTRIES),
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
        if let Some(cached) = self.entries.get(&key) {
            return Ok(cached);
        }
        let ticket = self.entries.ticket();
        let endpoint = match store.get_endpoint(app, id.as_str()).await {
            Ok(ep) => Some(Arc::new(ep)),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        };
        self.entries.insert(key, ticket, endpoint.clone());
        Ok(endpoint)
    }

    /// Forgets one endpoint.
    pub fn invalidate(&self, app: &AppId, id: &EndpointId) {
        self.entries.invalidate(&(app.clone(), id.clone()));
    }
}
