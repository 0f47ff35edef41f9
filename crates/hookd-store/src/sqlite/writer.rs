//! The single writer: one std thread owning the write connection, doing group commit.
//!
//! Callers send a job (a closure over the open transaction plus a reply channel). The
//! thread takes the first job, drains whatever else is already queued (up to
//! [`MAX_BATCH`]), runs them all in ONE transaction — each inside its own savepoint, so one
//! job's failure rolls back only that job — commits once (one fsync), and only then replies
//! to every job. If the batch cannot commit, every job of it gets an error.
//!
//! Dropping the [`Writer`] closes the channel; the thread finishes the queued jobs and
//! exits, and the drop joins it.

use crate::{StoreError, StoreResult};
use anyhow::Context;
use rusqlite::{Connection, Transaction, TransactionBehavior};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread::JoinHandle;
use tokio::sync::{mpsc, oneshot};

/// Jobs committed together at most (bounds the latency a batch adds to its first job).
const MAX_BATCH: usize = 512;
/// Jobs waiting for the writer at most; senders wait beyond that (back-pressure).
const QUEUE_CAPACITY: usize = 4096;

/// One unit of write work, type-erased so jobs of any result type share the channel.
trait Job: Send {
    /// Runs the work inside the batch's transaction; returns whether it succeeded.
    fn run(&mut self, tx: &Transaction<'_>) -> bool;
    /// Replies: the job's own result if the batch committed, else an error.
    fn finish(self: Box<Self>, batch_failure: Option<&str>);
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

    fn finish(self: Box<Self>, batch_failure: Option<&str>) {
        let result = match (self.result, batch_failure) {
            // A failed job wrote nothing either way; its own error says why.
            (Some(Err(e)), _) => Err(e),
            (Some(Ok(v)), None) => Ok(v),
            (Some(Ok(_)), Some(why)) | (None, Some(why)) => Err(StoreError::Other(
                anyhow::anyhow!("SQLite write batch not committed: {why}"),
            )),
            (None, None) => Err(StoreError::Other(anyhow::anyhow!(
                "SQLite write job was not run"
            ))),
        };
        // The caller may have gone away (cancelled); nothing to do then.
        let _ = self.reply.send(result);
    }
}

/// The handle to the writer thread.
pub(super) struct Writer {
    /// `None` only while dropping, to close the channel before joining.
    sender: Option<mpsc::Sender<Box<dyn Job>>>,
    /// Joined on drop so the connection is closed before the lock file is released.
    thread: Option<JoinHandle<()>>,
}

impl Writer {
    /// Starts the writer thread owning `conn`.
    pub(super) fn spawn(conn: Connection) -> anyhow::Result<Self> {
        let (sender, receiver) = mpsc::channel(QUEUE_CAPACITY);
        let thread = std::thread::Builder::new()
            .name("hookd-sqlite-writer".into())
            .spawn(move || run(conn, receiver))
            .context("starting the SQLite writer thread")?;
        Ok(Self {
            sender: Some(sender),
            thread: Some(thread),
        })
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
        sender.send(job).await.map_err(|_| stopped())?;
        answer.await.map_err(|_| stopped())?
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

fn run(mut conn: Connection, mut receiver: mpsc::Receiver<Box<dyn Job>>) {
    let mut batch: Vec<Box<dyn Job>> = Vec::with_capacity(MAX_BATCH);
    while let Some(first) = receiver.blocking_recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match receiver.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        let failure = match execute(&mut conn, &mut batch) {
            Ok(()) => None,
            Err(e) => {
                tracing::error!(
                    error = format!("{e:#}"),
                    jobs = batch.len(),
                    "SQLite write batch failed"
                );
                // Leave no transaction open behind a failure the drop could not undo.
                if !conn.is_autocommit() {
                    let _ = conn.execute_batch("ROLLBACK");
                }
                Some(format!("{e:#}"))
            }
        };
        for job in batch.drain(..) {
            job.finish(failure.as_deref());
        }
    }
}

/// Runs every job of the batch in one transaction and commits it.
fn execute(conn: &mut Connection, batch: &mut [Box<dyn Job>]) -> anyhow::Result<()> {
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .context("beginning a write batch")?;
    for job in batch.iter_mut() {
        step(&tx, "SAVEPOINT job")?;
        if !job.run(&tx) {
            step(&tx, "ROLLBACK TO job")?;
        }
        step(&tx, "RELEASE job")?;
    }
    tx.commit().context("committing a write batch")
}

fn step(tx: &Transaction<'_>, sql: &'static str) -> anyhow::Result<()> {
    tx.prepare_cached(sql)
        .and_then(|mut s| s.execute([]))
        .with_context(|| format!("running {sql}"))?;
    Ok(())
}
