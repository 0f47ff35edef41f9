//! The embedded schema migrations, tracked in `hookd_schema_version` (one row) in the
//! connection's current schema. A migration is never edited once released; changes add a
//! new one.
//!
//! Several nodes may start at once: everything runs in one transaction that first takes a
//! transaction-scoped advisory lock for this schema, so one node migrates while the
//! others wait and then find nothing left to do.

use anyhow::{bail, Context};
use tokio_postgres::Client;

/// The database's schema version (0 before any migration) and the newest this build
/// knows.
pub(super) async fn version(client: &Client) -> crate::StoreResult<crate::SchemaVersion> {
    let current = match client
        .query_opt("SELECT max(version) FROM hookd_schema_version", &[])
        .await
    {
        Ok(row) => row
            .and_then(|r| r.get::<_, Option<i32>>(0))
            .map_or(0, i64::from),
        Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::UNDEFINED_TABLE) => 0,
        Err(e) => return Err(super::codec::pg_error(e, "reading the schema version")),
    };
    Ok(crate::SchemaVersion {
        current,
        known: MIGRATIONS.len() as i64,
    })
}

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_init.sql"),
    include_str!("sql/0002_previous_secrets.sql"),
    include_str!("sql/0003_idempotency_keys.sql"),
    include_str!("sql/0004_payload_retention.sql"),
    include_str!("sql/0005_failure_handling.sql"),
    include_str!("sql/0006_flow_control.sql"),
    include_str!("sql/0007_main_key_check.sql"),
    include_str!("sql/0008_ingest_sources.sql"),
    include_str!("sql/0009_ingest_events.sql"),
    include_str!("sql/0010_sealed_credentials.sql"),
    include_str!("sql/0011_message_traceparent.sql"),
    include_str!("sql/0012_endpoint_disabled_reason.sql"),
    include_str!("sql/0013_messages_by_event_type.sql"),
];

/// The advisory lock's first key ("hookd" in ASCII); the second is the schema's hash, so
/// nodes of different schemas in one database do not wait for each other.
const LOCK_CLASS: i32 = 0x686f_6f6b;

/// Applies every migration the schema has not seen yet, in one transaction.
pub(super) async fn apply(client: &mut Client) -> anyhow::Result<()> {
    let tx = client
        .transaction()
        .await
        .context("starting the schema migration")?;
    // Waiting for another node's migration is not a slow statement.
    tx.batch_execute("SET LOCAL statement_timeout = 0")
        .await
        .context("lifting the statement timeout for migrations")?;
    tx.execute(
        "SELECT pg_advisory_xact_lock($1, hashtext(current_schema()))",
        &[&LOCK_CLASS],
    )
    .await
    .context("taking the schema migration lock")?;
    tx.batch_execute("CREATE TABLE IF NOT EXISTS hookd_schema_version (version INTEGER NOT NULL)")
        .await
        .context("creating the schema version table")?;
    let current: Option<i32> = tx
        .query_opt("SELECT max(version) FROM hookd_schema_version", &[])
        .await
        .context("reading the schema version")?
        .map(|row| row.try_get(0))
        .transpose()
        .context("reading the schema version")?
        .flatten();
    let current = current.unwrap_or(0);
    let known = i32::try_from(MIGRATIONS.len()).unwrap_or(i32::MAX);
    if current > known {
        bail!("the database has schema version {current}, newer than this hookd knows ({known})");
    }
    for (sql, version) in MIGRATIONS
        .iter()
        .zip(1..)
        .skip(usize::try_from(current).unwrap_or(0))
    {
        tx.batch_execute(sql)
            .await
            .with_context(|| format!("applying schema migration {version}"))?;
        tracing::info!(version, "applied PostgreSQL schema migration");
    }
    if current < known {
        tx.execute("DELETE FROM hookd_schema_version", &[])
            .await
            .context("recording the schema version")?;
        tx.execute(
            "INSERT INTO hookd_schema_version (version) VALUES ($1)",
            &[&known],
        )
        .await
        .context("recording the schema version")?;
    }
    tx.commit().await.context("committing the schema migration")
}
