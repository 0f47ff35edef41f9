//! The checkpointer: copies committed pages from the WAL back into the database file on
//! its own thread and connection, so the writer thread never pays for it.
//!
//! SQLite's automatic checkpoint runs inside the commit that crosses its threshold, on the
//! writer, together with an fsync of the main file: every few hundred commits a write
//! batch would stall. Here a `PASSIVE` checkpoint runs every [`INTERVAL`] instead; it never
//! blocks the writer (it copies what no reader still needs and leaves the rest for the next
//! round). The writer keeps a high automatic threshold only as a backstop.

use crate::RateLimitedLog;
use anyhow::Context;
use rusqlite::Connection;
use std::path::Path;
use std::sync::mpsc;
use std::thread::JoinHandle;
use std::time::Duration;

/// How often the WAL is checkpointed.
const INTERVAL: Duration = Duration::from_millis(200);

/// A checkpoint fails every round while the disk is full: one line a second at most.
static FAILURE_LOG: RateLimitedLog = RateLimitedLog::new();

/// The running checkpointer; stops (after one last checkpoint) when dropped.
pub(super) struct Checkpointer {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Checkpointer {
    pub fn spawn(path: &Path) -> anyhow::Result<Self> {
        let conn = Connection::open(path)
            .with_context(|| format!("opening {} for checkpoints", path.display()))?;
        conn.busy_timeout(super::BUSY_TIMEOUT)
            .context("setting the checkpointer's busy timeout")?;
        let (stop, stopped) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("hookd-sqlite-checkpoint".into())
            .spawn(move || run(&conn, &stopped))
            .context("starting the SQLite checkpointer")?;
        Ok(Self {
            stop: Some(stop),
            thread: Some(thread),
        })
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the SQLite checkpointer panicked");
            }
        }
    }
}

fn run(conn: &Connection, stopped: &mpsc::Receiver<()>) {
    while let Err(mpsc::RecvTimeoutError::Timeout) = stopped.recv_timeout(INTERVAL) {
        // The row it returns (busy, WAL frames, frames copied) needs no action.
        let done = conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
        if let Err(e) = done {
            if let Some(suppressed) = FAILURE_LOG.admit() {
                tracing::warn!(
                    error = %e,
                    suppressed,
                    "checkpointing the SQLite WAL failed; will try again"
                );
            }
        }
    }
}
