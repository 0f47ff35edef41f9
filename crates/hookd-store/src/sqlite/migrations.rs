//! The embedded schema migrations, applied in order at open and tracked with SQLite's
//! `user_version`. A migration is never edited once released; changes add a new one.

use anyhow::{bail, Context};
use rusqlite::Connection;

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

/// The database's schema version and the newest this build knows.
pub(super) fn version(conn: &Connection) -> crate::StoreResult<crate::SchemaVersion> {
    use super::codec::SqlContext;
    let current: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .ctx("reading the schema version")?;
    Ok(crate::SchemaVersion {
        current,
        known: MIGRATIONS.len() as i64,
    })
}

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

#[cfg(test)]
mod tests {
    use super::{apply, MIGRATIONS};
    use rusqlite::Connection;

    #[test]
    fn flow_control_migration_lists_throttled_endpoints_and_marks_their_pending_rows() {
        let mut conn = Connection::open_in_memory().unwrap();
        let before_flow = MIGRATIONS
            .iter()
            .position(|sql| sql.contains("CREATE TABLE flow_endpoints"))
            .unwrap();
        for sql in &MIGRATIONS[..before_flow] {
            conn.execute_batch(sql).unwrap();
        }
        conn.pragma_update(None, "user_version", before_flow as i64)
            .unwrap();
        conn.execute_batch(
            "INSERT INTO endpoints (id, app_id, url, description, version, rate_limit, disabled,
                 metadata, secret, headers, created_at, updated_at)
             VALUES ('ep_t', 'app_1', 'https://a.example', '', 1, 5, 0, '{}', 's', '{}', 0, 0),
                    ('ep_p', 'app_1', 'https://b.example', '', 1, NULL, 0, '{}', 's', '{}', 0, 0);
             INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status,
                 attempt_count, next_attempt_at, trigger)
             VALUES ('msg_1', 'ep_t', 'app_1', 1, 0, 10, 0),
                    ('msg_2', 'ep_t', 'app_1', 2, 1, NULL, 0),
                    ('msg_1', 'ep_p', 'app_1', 1, 0, 10, 0);",
        )
        .unwrap();
        apply(&mut conn).unwrap();
        let listed: Vec<String> = conn
            .prepare("SELECT endpoint_id FROM flow_endpoints")
            .unwrap()
            .query_map([], |r| r.get(0))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(listed, ["ep_t"]);
        let marked: Vec<(String, String)> = conn
            .prepare("SELECT msg_id, endpoint_id FROM message_destinations WHERE flow = 1")
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(marked, [("msg_1".to_owned(), "ep_t".to_owned())]);
    }
}
