//! The reader pool: a few read-only connections used from `spawn_blocking`, so reads run
//! in parallel with each other and with the writer (WAL lets readers see the last commit
//! without blocking it). A caller waits for its read until the call deadline at most; a
//! read still running then keeps its connection and permit until it ends, so the number of
//! reads in flight stays bounded.

use super::codec::SqlContext;
use crate::deadline::within;
use crate::metrics::StoreMetrics;
use crate::{StoreError, StoreResult};
use rusqlite::{Connection, OpenFlags};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Semaphore;

/// Connections kept open for reads.
pub(super) const READERS: usize = 4;

pub(super) struct Readers {
    /// Idle connections; one is always available to a holder of a permit.
    idle: Arc<Mutex<Vec<Connection>>>,
    /// Bounds concurrent reads to the number of connections.
    permits: Arc<Semaphore>,
    /// To replace a connection lost to a panicking read.
    path: PathBuf,
    /// A caller waits this long at most for its read (waiting for a permit included).
    limit: Duration,
    /// The pool's use, and the writer's commits (shared with it).
    metrics: Arc<StoreMetrics>,
}

impl Readers {
    pub(super) fn open(path: &Path, metrics: Arc<StoreMetrics>) -> anyhow::Result<Self> {
        let idle = (0..READERS)
            .map(|_| open_reader(path))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok(Self {
            idle: Arc::new(Mutex::new(idle)),
            permits: Arc::new(Semaphore::new(READERS)),
            path: path.to_owned(),
            limit: crate::DEFAULT_CALL_TIMEOUT,
            metrics,
        })
    }

    /// Sets how long a caller waits for its read at most.
    pub(super) fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
    }

    /// Runs `read` on a pooled connection on the blocking thread pool.
    pub(super) async fn run<T, F>(&self, read: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    {
        within(self.limit, "the SQLite database", async {
            let waiting = self.metrics.acquiring();
            let permit = self
                .permits
                .clone()
                .acquire_owned()
                .await
                .map_err(|_| StoreError::Unavailable("the SQLite readers are closed".into()))?;
            let in_use = waiting.acquired();
            let idle = self.idle.clone();
            let path = self.path.clone();
            tokio::task::spawn_blocking(move || {
                let conn = match lock(&idle).pop() {
                    Some(conn) => conn,
                    None => open_reader(&path).map_err(StoreError::Other)?,
                };
                let result = read(&conn);
                lock(&idle).push(conn);
                drop((permit, in_use));
                result
            })
            .await
            .map_err(|e| {
                StoreError::Other(anyhow::Error::new(e).context("a SQLite read task failed"))
            })?
        })
        .await
    }
}

fn lock(idle: &Mutex<Vec<Connection>>) -> std::sync::MutexGuard<'_, Vec<Connection>> {
    // A panic while holding the lock cannot leave the Vec inconsistent.
    idle.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_reader(path: &Path) -> anyhow::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let conn = Connection::open_with_flags(path, flags)
        .map_err(anyhow::Error::new)
        .map_err(|e| e.context(format!("opening a SQLite reader on {}", path.display())))?;
    conn.busy_timeout(super::BUSY_TIMEOUT)
        .ctx("setting the reader busy timeout")?;
    conn.set_prepared_statement_cache_capacity(super::STATEMENT_CACHE);
    Ok(conn)
}
