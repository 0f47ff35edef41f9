//! The single writer: one std thread owning the write connection, doing group commit.
//!
//! Callers send a job (a closure over the open transaction plus a reply channel). The
//! thread takes the first job, drains whatever else is already queued (up to
//! [`MAX_BATCH`]), runs them all in ONE transaction — each inside its own savepoint, so one
//! job's failure rolls back only that job — commits once (one fsync), and only then replies
//! to every job. If the batch cannot commit, every job of it gets an error.
//!
//! A caller waits for its answer until the call deadline at most (`Unavailable` then). A job
//! whose caller has gone by the time its batch starts is skipped, never written: only a job
//! already in the batch being committed at the deadline may commit after its caller was
//! told 503 (see `crate::deadline`).
//!
//! Failures of the storage itself (a full disk, an I/O error, a read-only file), and a
//! writer that did not answer within the deadline, are kept in [`WriteHealth`] until a
//! batch commits a successful job again, so health can report them;
//! they are logged once a second at most, with the count left out. SQLite rolls the failed
//! transaction back and the connection stays usable, so writes resume by themselves once
//! the cause is gone.
//!
//! Dropping the [`Writer`] closes the channel; the thread finishes the queued jobs and
//! exits, and the drop joins it.

use super::codec::storage_error_in;
use crate::deadline::within;
use crate::metrics::StoreMetrics;
use crate::{RateLimitedLog, StoreError, StoreResult};
use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;
use tokio::sync::{mpsc, oneshot};

/// Failed batches are logged at most once a second: a full disk fails every write, and a
/// line per batch would fill the disk further.
static BATCH_FAILURE_LOG: RateLimitedLog = RateLimitedLog::new();

/// Jobs committed together at most (bounds the latency a batch adds to its first job).
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer at most; senders wait beyond that (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

/// One unit of write work, type-erased so jobs of any result type share the channel.
trait Job: Send {
    /// Runs the work inside the batch's transaction; returns whether it succeeded.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Replies: the job's own result if the batch committed, else the batch's error.
    fn finish(self: Box<Self>, batch_failure: Option<&StoreError>);
    /// Whether the caller stopped waiting (its deadline passed): then the job is not run.
    fn abandoned(&self) -> bool;
    /// The job's own failure, if it was one of the storage (full, I/O, read-only).
    fn storage_failure(&self) -> Option<StoreError>;
}

struct TypedJob<T, F> {
    work: Option<F>,
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for TypedJob<T, F>
where
    T: Send,
    F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send,
{
    fn run(&mut self, tx: &Transaction<'_>) -> bool {
        let Some(work) = self.work.take() else {
            return false;
        };
        let result = catch_unwind(AssertUnwindSafe(|| work(tx))).unwrap_or_else(|_| {
            Err(StoreError::Other(anyhow::anyhow!(
                "a SQLite write job panicked"
            )))
        });
        let ok = result.is_ok();
        self.result = Some(result);
        ok
    }

    fn finish(self: Box<Self>, batch_failure: Option<&StoreError>) {
        let result = match (self.result, batch_failure) {
            // A failed job wrote nothing either way; its own error says why.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), None) => Ok(v),
            (Some(Ok(_)), Some(e)) | (None, Some(e)) => Err(e.share()),
            (None, None) => Err(StoreError::Other(anyhow::anyhow!(
                "SQLite write job was not run"
            ))),
        };
        // The caller may have gone away (cancelled); nothing to do then.
        let _ = self.reply.send(result);
    }

    fn abandoned(&self) -> bool {
        self.reply.is_closed()
    }

    fn storage_failure(&self) -> Option<StoreError> {
        match &self.result {
            Some(Err(e)) if e.is_storage_failure() => Some(e.share()),
            _ => None,
        }
    }
}

/// The last failure of the storage seen by the writer, until a write succeeds again.
#[derive(Default)]
pub(super) struct WriteHealth(Mutex<Option<StoreError>>);

impl WriteHealth {
    /// The failure writes are in, if any.
    pub(super) fn failure(&self) -> Option<StoreError> {
        self.lock().as_ref().map(StoreError::share)
    }

    fn set(&self, failure: Option<StoreError>) {
        *self.lock() = failure;
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Option<StoreError>> {
        // A panic while holding the lock cannot leave an Option inconsistent.
        self.0
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The handle to the writer thread.
pub(super) struct Writer {
    /// `None` only while dropping, to close the channel before joining.
    sender: Option<mpsc::Sender<Box<dyn Job>>>,
    /// Joined on drop so the connection is closed before the lock file is released.
    thread: Option<JoinHandle<()>>,
    /// Whether writes currently fail for a cause of the storage.
    health: Arc<WriteHealth>,
    /// A caller waits this long at most for its job's answer (queueing included).
    limit: Duration,
    /// Counts committed batches that wrote something.
    commits: Arc<tokio::sync::watch::Sender<u64>>,
}

impl Writer {
    /// Starts the writer thread owning `conn`.
    pub(super) fn spawn(conn: Connection, metrics: Arc<StoreMetrics>) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let health = Arc::new(WriteHealth::default());
        let shared = health.clone();
        let commits = Arc::new(tokio::sync::watch::Sender::new(0));
        let counter = commits.clone();
        let thread = std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run(conn, receiver, &shared, &counter, &metrics))
            .context("starting the SQLite writer thread")?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
            health,
            limit: crate::DEFAULT_CALL_TIMEOUT,
            commits,
        })
    }

    /// Sets how long a caller waits for its answer at most.
    pub(super) fn set_limit(&mut self, limit: Duration) {
        self.limit = limit;
    }

    /// The storage failure writes are in, if any (cleared by the next successful write).
    pub(super) fn failure(&self) -> Option<StoreError> {
        self.health.failure()
    }

    /// Runs `work` in the writer's next batch and returns its result once committed.
    pub(super) async fn submit<T, F>(&self, work: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Transaction<'_>) -> StoreResult<T> + Send + 'static,
    {
        let sender = self.sender.as_ref().ok_or_else(stopped)?;
        let (reply, answer) = oneshot::channel();
        let job = Box::new(TypedJob {
            work: Some(work),
            result: None,
            reply,
        });
        let result = within(self.limit, "the SQLite writer", async {
            sender.send(job).await.map_err(|_| stopped())?;
            answer.await.map_err(|_| stopped())?
        })
        .await;
        if let Err(e @ StoreError::Unavailable(_)) = &result {
            // A writer stuck past the deadline (a hung disk, a lock held elsewhere) is
            // reported by health too, until a write gets through again.
            self.health.set(Some(e.share()));
        }
        result
    }

    /// A receiver whose value changes after every committed batch that wrote something.
    pub(super) fn commits(&self) -> tokio::sync::watch::Receiver<u64> {
        self.commits.subscribe()
    }

    /// Whether the thread still takes jobs.
    pub(super) fn is_running(&self) -> bool {
        self.sender.as_ref().is_some_and(|s| !s.is_closed())
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        drop(self.sender.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the SQLite writer thread panicked");
            }
        }
    }
}

fn stopped() -> StoreError {
    StoreError::Unavailable("the SQLite writer has stopped".into())
}

fn run(
    mut conn: Connection,
    mut receiver: mpsc::Receiver<Box<dyn Job>>,
    health: &WriteHealth,
    commits: &tokio::sync::watch::Sender<u64>,
    metrics: &StoreMetrics,
) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        // Their callers were told `Unavailable`: what they asked must not happen now.
        batch.retain(|job| !job.abandoned());
        if batch.is_empty() {
            continue;
        }
        let started = std::time::Instant::now();
        metrics.committing();
        let executed = execute(&mut conn, &mut batch);
        metrics.committed(batch.len(), started.elapsed(), executed.is_ok());
        let failure = match executed {
            Ok(committed) => {
                let storage = batch.iter().find_map(|job| job.storage_failure());
                if committed > 0 || storage.is_some() {
                    health.set(storage);
                }
                if committed > 0 {
                    commits.send_modify(|n| *n += 1);
                }
                None
            }
            Err(e) => {
                let failure = storage_error_in(&e, "writing to the SQLite database")
                    .unwrap_or_else(|| {
                        StoreError::Other(anyhow::anyhow!(
                            "SQLite write batch not committed: {e:#}"
                        ))
                    });
                if let Some(suppressed) = BATCH_FAILURE_LOG.admit() {
                    tracing::error!(
                        error = format!("{e:#}"),
                        jobs = batch.len(),
                        suppressed,
                        "SQLite write batch failed"
                    );
                }
                // Leave no transaction open behind a failure the drop could not undo.
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                if failure.is_storage_failure() {
                    health.set(Some(failure.share()));
                }
                Some(failure)
            }
        };
        for job in batch.drain(..) {
            job.finish(failure.as_ref());
        }
    }
}

/// Runs every job of the batch in one transaction and commits it; returns how many jobs
/// succeeded (and so were committed).
fn execute(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> anyhow::Result<usize> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("beginning a write batch")?;
    let mut succeeded = 0;
    for job in batch.iter_mut() {
        step(&tx, "SAVEPOINT job")?;
        if job.run(&tx) {
            succeeded += 1;
        } else {
            step(&tx, "ROLLBACK TO job")?;
        }
        step(&tx, "RELEASE job")?;
    }
    tx.commit().context("committing a write batch")?;
    Ok(succeeded)
}

fn step(tx: &Transaction<'_>, sql: &'static str) -> anyhow::Result<()> {
    tx.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}
