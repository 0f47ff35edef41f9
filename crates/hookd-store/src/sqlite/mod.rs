//! The embedded SQLite backend of [`Store`](crate::Store).
//!
//! Layout:
//! - this file: [`SqliteStore::open`] (lock file, pragmas, migrations, threads) and close.
//! - `writer`: the single writer thread with group commit; every write goes through it.
//! - `readers`: a small pool of read-only connections used from `spawn_blocking`.
//! - `checkpointer`: copies the WAL back into the database file on its own thread.
//! - `migrations` (+ `sql/`): the embedded schema.
//! - `apps`, `event_types`, `endpoints`, `messages`, `attempts`, `queue`, `flow`: the SQL of
//!   each area as plain synchronous functions over a connection or transaction.
//! - `sources`, `ingest`: ingest sources; the events received through them (dedup
//!   entries, forward metadata) and the rejection log.
//! - `failure`: endpoint failure streaks and recovery tasks.
//! - `main_key`: at open, checks the main key and re-seals what is not yet under it.
//! - `retention`: idempotency keys, content expunging and the cleaner's bounded purges.
//! - `store`: the `Store` impl, sending each call to the writer or a reader.
//! - `codec`, `query`: value conversions, error mapping, and the list-query builder.
//!
//! Durability: WAL with `synchronous=FULL`, so a write returns only after its batch's
//! commit is fsync'd. A full disk or an I/O error fails the writes (`StorageFull` /
//! `Unavailable`) without closing anything: SQLite rolls the batch back, and writes resume
//! on the same connection once space returns; health reports the failure until then.
//! Deletes cascade with explicit statements (no foreign keys).

mod apps;
mod attempts;
mod checkpointer;
mod codec;
mod endpoints;
mod event_types;
mod failure;
mod flow;
mod ingest;
mod main_key;
mod messages;
mod migrations;
mod query;
mod queue;
mod readers;
mod retention;
mod sources;
mod store;
mod writer;

use crate::metrics::StoreMetrics;
use crate::secrets::{Keyring, SecretCodec};
use anyhow::{bail, Context};
use rusqlite::Connection;
use std::fs::{File, OpenOptions, TryLockError};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// How long a connection waits on a lock held by another connection (e.g. a checkpoint).
const BUSY_TIMEOUT: Duration = Duration::from_secs(5);
/// Prepared statements kept per connection (list queries vary with their filters).
const STATEMENT_CACHE: usize = 128;

/// The SQLite store. Share it as `Arc<SqliteStore>` (or `Arc<dyn Store>`); dropping the
/// last reference finishes the queued writes, closes the database and releases its lock.
pub struct SqliteStore {
    // Field order is drop order: the writer finishes and closes first, the lock goes last.
    /// The group-commit writer thread, owner of the only write connection.
    writer: writer::Writer,
    /// Read-only connections for every read.
    readers: readers::Readers,
    /// Background WAL checkpoints.
    _checkpointer: checkpointer::Checkpointer,
    /// Seals and opens endpoint secrets (plaintext when opened without a keyring).
    codec: SecretCodec,
    /// The reader pool's use and the writer's commits.
    metrics: Arc<StoreMetrics>,
    /// The `<path>.lock` file, locked exclusively while this store is open.
    _lock: File,
}

impl SqliteStore {
    /// Reads the database's schema version and queue (see [`crate::Inspection`]) from a
    /// read-only connection, without the lock a running `hookd serve` holds: for
    /// `hookd status` beside it.
    pub fn inspect(
        path: &Path,
        now: hookd_core::Timestamp,
        worst: usize,
    ) -> anyhow::Result<crate::Inspection> {
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(path, flags)
            .with_context(|| format!("opening the SQLite database {} to read", path.display()))?;
        conn.busy_timeout(BUSY_TIMEOUT)?;
        let schema = migrations::version(&conn)?;
        let queue = if schema.is_current() {
            Some(queue::stats(&conn, now, worst)?)
        } else {
            None
        };
        Ok(crate::Inspection { schema, queue })
    }

    /// Opens (creating parent dirs and the file if needed) the database at `path`, takes an
    /// exclusive lock (a `<path>.lock` file) so two processes never share one SQLite file,
    /// and applies the embedded migrations. Fails if another process (or another open
    /// store in this process) holds the lock.
    ///
    /// Endpoint secrets are written in plaintext: for tests and tools. `hookd serve` uses
    /// [`SqliteStore::open_encrypted`]. Fails if the database's secrets are encrypted.
    pub fn open(path: &Path) -> anyhow::Result<Self> {
        Self::open_with(path, None)
    }

    /// [`SqliteStore::open`], with endpoint secrets encrypted under `keyring`'s main key.
    /// At open, fails if the database's secrets are sealed with a key the keyring lacks,
    /// then re-encrypts (in batches) every secret not yet under the main key: plaintext
    /// from before encryption, or values sealed with a previous main key.
    pub fn open_encrypted(path: &Path, keyring: Keyring) -> anyhow::Result<Self> {
        Self::open_with(path, Some(keyring))
    }

    fn open_with(path: &Path, keyring: Option<Keyring>) -> anyhow::Result<Self> {
        if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("creating the data directory {}", parent.display()))?;
        }
        let lock = take_lock(path)?;
        let mut conn = Connection::open(path)
            .with_context(|| format!("opening the SQLite database {}", path.display()))?;
        configure_writer(&conn)?;
        migrations::apply(&mut conn)?;
        let codec = SecretCodec::new(keyring);
        main_key::prepare(&mut conn, &codec)?;
        let metrics = Arc::new(StoreMetrics::new("sqlite", readers::READERS));
        let readers = readers::Readers::open(path, metrics.clone())?;
        let writer = writer::Writer::spawn(conn, metrics.clone())?;
        let checkpointer = checkpointer::Checkpointer::spawn(path)?;
        tracing::info!(path = %path.display(), "opened the SQLite store");
        Ok(Self {
            writer,
            readers,
            _checkpointer: checkpointer,
            codec,
            metrics,
            _lock: lock,
        })
    }

    /// Bounds every call: a caller waits this long at most for its read or write (default
    /// [`crate::DEFAULT_CALL_TIMEOUT`]), then gets `StoreError::Unavailable`.
    pub fn set_call_timeout(&mut self, limit: Duration) {
        self.writer.set_limit(limit);
        self.readers.set_limit(limit);
    }

    /// Changes after every committed write (a batch of the writer that wrote something):
    /// what waits for the store to change (the dashboard's live views, tests) awaits
    /// `changed()` and reads again, instead of polling.
    pub fn changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.writer.commits()
    }

    /// Finishes the queued writes, stops the writer thread, closes every connection and
    /// releases the lock (the same as dropping the store; this makes it explicit).
    pub fn close(self) {
        drop(self);
    }
}

fn lock_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".lock");
    PathBuf::from(name)
}

// `File::try_lock` is stable since Rust 1.89, newer than the workspace's declared MSRV.
fn take_lock(path: &Path) -> anyhow::Result<File> {
    let lock_path = lock_path(path);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .with_context(|| format!("opening the lock file {}", lock_path.display()))?;
    match file.try_lock() {
        Ok(()) => Ok(file),
        Err(TryLockError::WouldBlock) => bail!(
            "the database {} is in use by another hookd process (lock file {} is held)",
            path.display(),
            lock_path.display()
        ),
        Err(TryLockError::Error(e)) => {
            Err(e).with_context(|| format!("locking {}", lock_path.display()))
        }
    }
}

fn configure_writer(conn: &Connection) -> anyhow::Result<()> {
    conn.busy_timeout(BUSY_TIMEOUT)
        .context("setting the busy timeout")?;
    let mode: String = conn
        .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
        .context("enabling WAL")?;
    if !mode.eq_ignore_ascii_case("wal") {
        bail!("SQLite refused WAL mode (journal_mode is {mode})");
    }
    // FULL: each commit is fsync'd before the writer replies (never lose an accepted message).
    conn.pragma_update(None, "synchronous", "FULL")
        .context("setting synchronous=FULL")?;
    // Cascades are explicit DELETEs; keep the hot inserts free of FK checks.
    conn.pragma_update(None, "foreign_keys", "OFF")
        .context("setting foreign_keys")?;
    conn.pragma_update(None, "temp_store", "MEMORY")
        .context("setting temp_store")?;
    // 32 MiB of page cache for the writer (negative = KiB).
    conn.pragma_update(None, "cache_size", -32_768)
        .context("setting cache_size")?;
    // The checkpointer thread keeps the WAL short; the automatic checkpoint (which would
    // run on the writer, inside a commit) only steps in if the WAL passes 64 MiB.
    conn.pragma_update(None, "wal_autocheckpoint", 16_384)
        .context("setting wal_autocheckpoint")?;
    conn.set_prepared_statement_cache_capacity(STATEMENT_CACHE);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::SqliteStore;
    use crate::{AppStore, StoreError};
    use hookd_core::ids::AppId;
    use hookd_core::model::{Application, Metadata};
    use hookd_core::Timestamp;

    #[tokio::test]
    async fn changes_moves_after_a_committed_write_only() {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("hookd.db")).unwrap();
        let mut changes = store.changes();
        let seen = *changes.borrow_and_update();
        let now = Timestamp::now();
        let app = Application {
            id: AppId::generate(),
            uid: Some("acme".into()),
            name: "acme".into(),
            rate_limit: None,
            metadata: Metadata::new(),
            created_at: now,
            updated_at: now,
        };
        store.create_app(&app).await.unwrap();
        assert!(
            changes.has_changed().unwrap(),
            "a committed write is announced"
        );
        let after_write = *changes.borrow_and_update();
        assert!(after_write > seen);

        store.get_app("acme").await.unwrap();
        let mut taken = app.clone();
        taken.id = AppId::generate();
        assert!(matches!(
            store.create_app(&taken).await,
            Err(StoreError::Conflict("uid"))
        ));
        assert!(
            !changes.has_changed().unwrap(),
            "a read or a refused write changes nothing"
        );
    }
}
