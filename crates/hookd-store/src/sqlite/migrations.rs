//! The embedded schema migrations, applied in order at open and tracked with SQLite's
//! `user_version`. A migration is never edited once released; changes add a new one.

use anyhow::{bail, Context};
use rusqlite::Connection;

/// Migration `i` brings the schema from version `i` to `i + 1`.
const MIGRATIONS: &[&str] = &[
    include_str!("sql/0001_init.sql"),
    include_str!("sql/0002_previous_secrets.sql"),
    include_str!("sql/0005_failure_handling.sql"),
];

/// Applies every migration the database has not seen yet, each in its own transaction.
pub(super) fn apply(conn: &mut Connection) -> anyhow::Result<()> {
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .context("reading the schema version")?;
    let known = MIGRATIONS.len() as i64;
    if current > known {
        bail!("the database has schema version {current}, newer than this hookd knows ({known})");
    }
    for (version, sql) in MIGRATIONS.iter().enumerate().skip(current.max(0) as usize) {
        let next = version + 1;
        let tx = conn.transaction().context("starting a migration")?;
        tx.execute_batch(sql)
            .with_context(|| format!("applying schema migration {next}"))?;
        tx.pragma_update(None, "user_version", next as i64)
            .context("recording the schema version")?;
        tx.commit()
            .with_context(|| format!("committing schema migration {next}"))?;
        tracing::info!(version = next, "applied SQLite schema migration");
    }
    Ok(())
}
