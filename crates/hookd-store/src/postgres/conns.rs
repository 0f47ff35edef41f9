//! [`Conns`]: the pool every store call takes its connection from, and the deadline every
//! call runs under. A connection whose call was cut short (the deadline passed, or the
//! caller went away) is discarded instead of returned: a statement may still be running on
//! it, or its answer still be on the way, and the next caller must not inherit either.

use super::codec::pool_error;
use crate::deadline::within;
use crate::metrics::StoreMetrics;
use crate::StoreResult;
use deadpool_postgres::{Client, Object, Pool};
use std::sync::Arc;
use std::time::Duration;

/// The pool and the call deadline; cheap to clone.
#[derive(Clone)]
pub(super) struct Conns {
    pool: Pool,
    /// Bounds a whole call: waiting for a connection, opening one, and its statements.
    limit: Duration,
    /// The pool's use, and the batcher's commits.
    metrics: Arc<StoreMetrics>,
}

impl Conns {
    pub(super) fn new(pool: Pool, limit: Duration) -> Self {
        let metrics = Arc::new(StoreMetrics::new("postgres", pool.status().max_size));
        Self {
            pool,
            limit,
            metrics,
        }
    }

    /// The pool's use, and the batcher's commits.
    pub(super) fn metrics(&self) -> &Arc<StoreMetrics> {
        &self.metrics
    }

    /// The deadline of one call.
    pub(super) fn limit(&self) -> Duration {
        self.limit
    }

    /// Runs `op` on a pooled connection; `Unavailable` once the deadline has passed.
    pub(super) async fn call<T>(
        &self,
        op: impl AsyncFnOnce(&mut Client) -> StoreResult<T>,
    ) -> StoreResult<T> {
        within(self.limit, "the database", async {
            let waiting = self.metrics.acquiring();
            let mut lease = Lease(Some(self.pool.get().await.map_err(pool_error)?));
            let _in_use = waiting.acquired();
            let result = op(lease.client()).await;
            lease.release();
            result
        })
        .await
    }
}

/// A pooled connection that goes back to the pool only if released; dropped unreleased
/// (its call was cancelled mid-statement), it is taken out of the pool and closed.
struct Lease(Option<Object>);

impl Lease {
    fn client(&mut self) -> &mut Client {
        self.0
            .as_mut()
            .expect("a lease holds its connection until it is released")
    }

    fn release(&mut self) {
        drop(self.0.take());
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        if let Some(conn) = self.0.take() {
            // Detached from the pool; dropping the client closes the connection.
            drop(Object::take(conn));
        }
    }
}
