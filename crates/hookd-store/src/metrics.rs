//! The store's own metrics: its connection pool and its group commits. Both backends keep
//! one [`StoreMetrics`] and move it where the work happens (the SQLite reader pool and
//! writer thread, the PostgreSQL pool and batcher); the server reads it out at `/metrics`.

use hookd_core::liveness::Heartbeat;
use hookd_core::metrics::{Counter, Exposition, Gauge, Histogram, Kind, SECONDS, SIZES};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters and histograms of one open store.
#[derive(Debug)]
pub struct StoreMetrics {
    backend: &'static str,
    /// Connections the pool may hold (SQLite: the readers; PostgreSQL: `pool_size`).
    pool_size: Gauge,
    /// Connections lent to a call right now.
    pool_in_use: Gauge,
    /// Calls that found no idle connection and had to wait for one.
    pool_waits: Counter,
    /// How long calls waited for a connection (every call, waiting or not).
    pool_wait: Histogram,
    /// Jobs (SQLite writes, PostgreSQL new messages) per group commit.
    commit_batch: Histogram,
    /// How long a group commit took, fsync included.
    commit_duration: Histogram,
    /// The group-commit writer's progress and the batch it is writing (the watchdog's
    /// `writer` part).
    writer: Arc<Heartbeat>,
}

impl StoreMetrics {
    pub(crate) fn new(backend: &'static str, pool_size: usize) -> StoreMetrics {
        let size = Gauge::new();
        size.set(i64::try_from(pool_size).unwrap_or(i64::MAX));
        StoreMetrics {
            backend,
            pool_size: size,
            pool_in_use: Gauge::new(),
            pool_waits: Counter::new(),
            pool_wait: Histogram::seconds(SECONDS),
            commit_batch: Histogram::sizes(SIZES),
            commit_duration: Histogram::seconds(SECONDS),
            writer: Arc::new(Heartbeat::new("writer")),
        }
    }

    /// A connection is about to be asked for. It waits when every connection the pool may
    /// hold is lent out (read from this gauge, not the pool: asking a pool for its status
    /// takes its lock on every call).
    pub(crate) fn acquiring(self: &Arc<Self>) -> Acquiring {
        if self.pool_in_use.get() >= self.pool_size.get() {
            self.pool_waits.inc();
        }
        Acquiring {
            metrics: self.clone(),
            started: Instant::now(),
        }
    }

    /// A group commit starts: the writer owes it until [`StoreMetrics::committed`].
    pub(crate) fn committing(&self) {
        self.writer.add_pending(1);
    }

    /// A group commit of `jobs` jobs took `took`; `ok`: it was written. A commit that
    /// failed answered its callers with the error, so it owes them nothing more: the
    /// writer stalls only when a commit does not end.
    pub(crate) fn committed(&self, jobs: usize, took: Duration, ok: bool) {
        self.commit_batch.observe(jobs as u64);
        self.commit_duration.observe_duration(took);
        if ok {
            self.writer.progress();
        }
        self.writer.add_pending(-1);
    }

    /// The writer's heartbeat, for the watchdog.
    pub fn writer(&self) -> &Arc<Heartbeat> {
        &self.writer
    }

    /// Writes these metrics.
    pub fn encode(&self, out: &mut Exposition) {
        let backend = [("backend", self.backend)];
        out.family(
            "hookd_db_pool_connections",
            "Database connections the pool may hold (SQLite: the reader connections).",
            Kind::Gauge,
        );
        out.sample(
            "hookd_db_pool_connections",
            &backend,
            self.pool_size.get() as f64,
        );
        out.family(
            "hookd_db_pool_in_use",
            "Database connections lent to a call right now.",
            Kind::Gauge,
        );
        out.sample(
            "hookd_db_pool_in_use",
            &backend,
            self.pool_in_use.get().max(0) as f64,
        );
        out.family(
            "hookd_db_pool_waits_total",
            "Database calls that found no idle connection and waited for one.",
            Kind::Counter,
        );
        out.sample(
            "hookd_db_pool_waits_total",
            &backend,
            self.pool_waits.get() as f64,
        );
        out.family(
            "hookd_db_pool_wait_seconds",
            "How long database calls waited for a connection.",
            Kind::Histogram,
        );
        out.histogram_series("hookd_db_pool_wait_seconds", &backend, &self.pool_wait);
        out.family(
            "hookd_db_commit_batch_size",
            "Writes per group commit (the SQLite writer's batches, the PostgreSQL batcher's \
             new messages).",
            Kind::Histogram,
        );
        out.histogram_series("hookd_db_commit_batch_size", &backend, &self.commit_batch);
        out.family(
            "hookd_db_commit_seconds",
            "How long a group commit took, fsync included.",
            Kind::Histogram,
        );
        out.histogram_series("hookd_db_commit_seconds", &backend, &self.commit_duration);
    }
}

/// A call waiting for a connection: [`Acquiring::acquired`] records the wait and counts
/// the connection as in use until the returned guard drops.
pub(crate) struct Acquiring {
    metrics: Arc<StoreMetrics>,
    started: Instant,
}

impl Acquiring {
    pub(crate) fn acquired(self) -> InUse {
        self.metrics
            .pool_wait
            .observe_duration(self.started.elapsed());
        self.metrics.pool_in_use.add(1);
        InUse(self.metrics)
    }
}

/// A connection lent to a call.
pub(crate) struct InUse(Arc<StoreMetrics>);

impl Drop for InUse {
    fn drop(&mut self) {
        self.0.pool_in_use.add(-1);
    }
}
