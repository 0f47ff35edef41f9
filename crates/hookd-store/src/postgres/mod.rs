//! The PostgreSQL backend of [`Store`](crate::Store): any number of hookd processes share
//! one database, and PostgreSQL alone keeps them from stepping on each other.
//!
//! Layout:
//! - this file: [`PostgresOptions`] and [`PostgresStore::connect`] (first connection,
//!   migrations, pool, listener).
//! - `connect`: the connection settings from the URL and options, TLS (rustls, verified
//!   certificates), the pool, and single unpooled connections.
//! - `migrations` (+ `sql/`): the embedded schema, applied under an advisory lock.
//! - `apps`, `event_types`, `endpoints`, `messages`, `attempts`, `queue`, `flow`: the SQL
//!   of each area as async functions over a pooled connection.
//! - `sources`, `ingest`: ingest sources; the events received through them (dedup
//!   entries, forward metadata) and the rejection log.
//! - `batcher`, `batch_insert`: group commit for new messages and ingest events (many per
//!   statement, each answered alone), and that statement.
//! - `failure`: endpoint failure streaks and recovery tasks.
//! - `main_key`: at connect, checks the main key and re-seals what is not yet under it.
//! - `retention`: idempotency keys, content expunging and the cleaner's bounded purges.
//! - `conns`: the pool and the deadline every call runs under (a connection whose call was
//!   cut short is discarded, never reused).
//! - `store`: the `Store` impl, taking a pooled connection per call.
//! - `listener`: the `LISTEN` connection behind `due_signal`, reconnecting on loss.
//! - `codec`, `query`: value conversions, error mapping, statement helpers and the
//!   list-query builder.
//!
//! Consistency: every write is a single statement (data-modifying CTEs where a write has
//! several parts), so it commits atomically in one round trip. The exception: an endpoint
//! update is a transaction, so that one changing whether the endpoint is flow-controlled
//! re-marks its pending destinations in a second statement (see `endpoints.rs`). Claims
//! lock their rows with `FOR UPDATE SKIP LOCKED`, so concurrent claims, from this process
//! or another, never overlap. Deletes cascade explicitly (no foreign keys), as with SQLite.
//!
//! Must not: log the URL, passwords, secrets or payloads; hold a pooled connection across
//! awaits on anything but its own statements.

mod apps;
mod attempts;
mod batch_insert;
mod batcher;
mod codec;
mod connect;
mod conns;
mod endpoints;
mod event_types;
mod failure;
mod flow;
mod ingest;
mod listener;
mod main_key;
mod messages;
mod migrations;
mod query;
mod queue;
mod retention;
mod sources;
mod store;

use crate::secrets::{Keyring, SecretCodec};
use anyhow::Context;
use std::fmt;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::{CancellationToken, DropGuard};

/// How to reach the database and how to bound the time spent on it.
#[derive(Clone)]
pub struct PostgresOptions {
    /// `postgres://user:pass@host:port/db?sslmode=…&options=…` (or the key=value form).
    /// `sslmode` is `disable`, `prefer` (the default) or `require`. Never logged.
    pub url: String,
    /// Pooled connections at most (each store call holds one for its statement).
    pub pool_size: usize,
    /// Set on every connection: a statement running longer is cancelled by the server and
    /// reported as `StoreError::Unavailable`.
    pub statement_timeout: Duration,
    /// Bounds opening one connection (TCP, TLS, authentication).
    pub connect_timeout: Duration,
    /// Bounds waiting for a free pooled connection when all are in use.
    pub acquire_timeout: Duration,
    /// Bounds every store call as a whole (a free connection, opening one, and its
    /// statements), so a frozen or partitioned server gives `StoreError::Unavailable` in
    /// bounded time: `statement_timeout` is enforced by the server, which may not answer.
    pub call_timeout: Duration,
    /// PEM root certificate(s) trusted for the server's TLS certificate, in addition to
    /// the webpki (Mozilla) roots: for a server with a private CA.
    pub ca_file: Option<PathBuf>,
    /// Encrypts endpoint secrets at rest; every node of a database needs the same main key
    /// (or it in its previous keys). `None` writes plaintext: for tests and tools only.
    pub keyring: Option<Keyring>,
}

impl Default for PostgresOptions {
    fn default() -> Self {
        Self {
            url: String::new(),
            pool_size: 16,
            statement_timeout: Duration::from_secs(10),
            connect_timeout: Duration::from_secs(5),
            acquire_timeout: Duration::from_secs(5),
            call_timeout: crate::DEFAULT_CALL_TIMEOUT,
            ca_file: None,
            keyring: None,
        }
    }
}

impl fmt::Debug for PostgresOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresOptions")
            .field("url", &"<redacted>")
            .field("pool_size", &self.pool_size)
            .field("statement_timeout", &self.statement_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("acquire_timeout", &self.acquire_timeout)
            .field("call_timeout", &self.call_timeout)
            .field("ca_file", &self.ca_file)
            .field("keyring", &self.keyring)
            .finish()
    }
}

/// The PostgreSQL store. Share it as `Arc<PostgresStore>` (or `Arc<dyn Store>`); dropping
/// it stops its listener and closes its connections.
pub struct PostgresStore {
    /// The connections every store call runs on, and the deadline of a call.
    conns: conns::Conns,
    /// Raised by the listener when another process may have made work due.
    due: Arc<Notify>,
    /// The `NOTIFY` channel of this store's schema, raised by writes that leave work.
    channel: String,
    /// Writes new messages in batches.
    messages: batcher::MessageBatcher,
    /// Seals and opens endpoint secrets (plaintext without a keyring).
    codec: SecretCodec,
    /// Stops the listener task when the store is dropped.
    _listener: DropGuard,
}

impl PostgresStore {
    /// Connects to the database in `opts.url`, applies the embedded migrations to the
    /// connection's current schema (safe when several nodes start at once), builds the
    /// pool and starts listening for work made due by other nodes.
    ///
    /// With `opts.keyring`: fails if the database's endpoint secrets are encrypted with a
    /// main key the keyring lacks, then re-encrypts (in batches, safe while other nodes
    /// run) every secret not yet under the main key.
    /// Reads the database's schema version and queue (see [`Inspection`]) without
    /// migrating, re-sealing or listening: for `hookd status` beside running nodes.
    pub async fn inspect(
        opts: &PostgresOptions,
        now: hookd_core::Timestamp,
        worst: usize,
    ) -> anyhow::Result<crate::Inspection> {
        let mut target = connect::Target::new(opts)?;
        // Settles TLS (`sslmode=prefer`) as `connect` does.
        drop(target.open_first(Arc::new(Notify::new())).await?);
        let conns = conns::Conns::new(target.pool(opts)?, opts.call_timeout);
        let schema = conns
            .call(async |c| migrations::version(c).await)
            .await
            .context("reading the schema version")?;
        let queue = if schema.is_current() {
            let stats = conns
                .call(async |c| queue::stats(c, now, worst).await)
                .await
                .context("reading the queue")?;
            Some(stats)
        } else {
            None
        };
        Ok(crate::Inspection { schema, queue })
    }

    pub async fn connect(opts: &PostgresOptions) -> anyhow::Result<Self> {
        let mut target = connect::Target::new(opts)?;
        let due = Arc::new(Notify::new());
        let mut session = target.open_first(due.clone()).await?;
        target.check_for_gone_clients(&session).await;
        migrations::apply(&mut session.client).await?;
        let schema: Option<String> = session
            .client
            .query_one("SELECT current_schema()", &[])
            .await
            .and_then(|row| row.try_get(0))
            .context("reading the current schema")?;
        let schema = schema.context("the search_path names no existing schema")?;
        let codec = SecretCodec::new(opts.keyring.clone());
        main_key::prepare(&mut session.client, &codec).await?;
        let channel = listener::channel_name(&schema);
        let pool = target.pool(opts)?;
        let stop = CancellationToken::new();
        listener::start(target, session, channel.clone(), due.clone(), stop.clone())
            .await
            .context("listening for due work")?;
        tracing::info!(
            schema = %schema,
            pool_size = opts.pool_size,
            "connected to the PostgreSQL store"
        );
        let conns = conns::Conns::new(pool, opts.call_timeout);
        Ok(Self {
            messages: batcher::MessageBatcher::start(conns.clone(), channel.clone()),
            conns,
            due,
            channel,
            codec,
            _listener: stop.drop_guard(),
        })
    }
}
