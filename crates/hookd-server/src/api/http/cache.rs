//! A tiny cache for message fan-out (the hot path): per application key (the id or uid a
//! request named), the application and all its endpoints.
//!
//! A [`TtlCache`]: entries live at most [`TTL`], counted from the start of the read that
//! filled them. This node drops an app's entries whenever the app or one of its endpoints
//! changes, so only changes made through *other* nodes can be seen late, by at most the
//! TTL; a read that raced with an invalidation does not re-insert what it read.

use super::error::ApiResult;
use hookd_core::ids::AppId;
use hookd_core::model::{Application, Endpoint};
use hookd_store::TtlCache;
use std::sync::Arc;
use std::time::Duration;

/// How long an entry is trusted.
pub const TTL: Duration = Duration::from_secs(1);
/// Most keys cached at once.
const MAX_KEYS: usize = 4096;

/// What a message needs to fan out.
#[derive(Debug)]
pub struct FanOut {
    pub app: Application,
    /// Every endpoint of the app, enabled or not.
    pub endpoints: Vec<Endpoint>,
}

/// Shared handle; cheap to clone.
#[derive(Clone)]
pub struct FanOutCache {
    entries: Arc<TtlCache<String, Arc<FanOut>>>,
}

impl Default for FanOutCache {
    fn default() -> Self {
        Self {
            entries: Arc::new(TtlCache::new(TTL, MAX_KEYS)),
        }
    }
}

impl FanOutCache {
    /// The entry for `key` (an app id or uid), from the cache or read by `load`, with one
    /// read of a key at a time ([`TtlCache::get_or_load`]).
    pub async fn get_or_load<Fut>(
        &self,
        key: &str,
        load: impl FnOnce() -> Fut,
    ) -> ApiResult<Arc<FanOut>>
    where
        Fut: std::future::Future<Output = ApiResult<Arc<FanOut>>>,
    {
        self.entries.get_or_load(&key.to_owned(), load).await
    }

    /// Forgets an app after it or any of its endpoints changed (under every key).
    pub fn invalidate(&self, app: &AppId) {
        self.entries
            .invalidate_where(|_, entry| entry.app.id == *app);
    }
}
