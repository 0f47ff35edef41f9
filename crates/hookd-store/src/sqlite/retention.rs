//! Idempotency keys (the `idempotency_keys` table) and data retention: expunging payloads
//! and attempt bodies, and the cleaner's bounded purges. Every purge touches at most
//! `limit` rows, so one round never holds the writer for long.

use super::codec::{ms, ts_col, SqlContext};
use crate::{
    attempt_id_floor, IdempotencyClaim, IdempotencyRecord, IdempotencyReservation, StoreError,
    StoreResult,
};
use hookd_core::ids::{AppId, AttemptId, MsgId};
use hookd_core::model::DeliveryStatus;
use hookd_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

fn record_from_row(row: &Row<'_>) -> rusqlite::Result<IdempotencyRecord> {
    let status: Option<i64> = row.get(1)?;
    let body: Option<Vec<u8>> = row.get(2)?;
    Ok(IdempotencyRecord {
        fingerprint: row.get(0)?,
        response: status.map(|s| (u16::try_from(s).unwrap_or(500), body.unwrap_or_default())),
        locked_until: ts_col(row, 3)?,
        expires_at: ts_col(row, 4)?,
    })
}

/// The key's row as of now, if not expired.
pub(super) fn get_key(
    conn: &Connection,
    key: &str,
    now: Timestamp,
) -> StoreResult<Option<IdempotencyRecord>> {
    conn.prepare_cached(
        "SELECT fingerprint, status, response, locked_until, expires_at FROM idempotency_keys
         WHERE key = ?1 AND expires_at > ?2",
    )
    .and_then(|mut s| {
        s.query_row(params![key, ms(now)], record_from_row)
            .optional()
    })
    .ctx("reading an idempotency key")
}

/// Takes the key if free, expired or held by a lapsed reservation (one writer: atomic).
pub(super) fn reserve(
    conn: &Connection,
    claim: &IdempotencyClaim,
) -> StoreResult<IdempotencyReservation> {
    let taken = conn
        .prepare_cached(
            "INSERT INTO idempotency_keys (key, fingerprint, token, status, response,
                 locked_until, expires_at) VALUES (?1, ?2, ?3, NULL, NULL, ?4, ?5)
             ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,
                 token = excluded.token, status = NULL, response = NULL,
                 locked_until = excluded.locked_until, expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= ?6
                OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until <= ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                claim.key,
                claim.fingerprint,
                claim.token,
                ms(claim.locked_until),
                ms(claim.expires_at),
                ms(claim.now)
            ])
        })
        .ctx("reserving an idempotency key")?;
    if taken == 1 {
        return Ok(IdempotencyReservation::Reserved);
    }
    match get_key(conn, &claim.key, claim.now)? {
        Some(record) => Ok(IdempotencyReservation::Existing(record)),
        None => Err(StoreError::Other(anyhow::anyhow!(
            "an idempotency key was neither free nor held"
        ))),
    }
}

pub(super) fn complete(
    conn: &Connection,
    key: &str,
    token: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<bool> {
    let n = conn
        .prepare_cached(
            "UPDATE idempotency_keys SET status = ?3, response = ?4
             WHERE key = ?1 AND token = ?2 AND status IS NULL",
        )
        .and_then(|mut s| s.execute(params![key, token, i64::from(status), body]))
        .ctx("storing an idempotent response")?;
    Ok(n == 1)
}

pub(super) fn release(conn: &Connection, key: &str, token: &str) -> StoreResult<()> {
    conn.prepare_cached(
        "DELETE FROM idempotency_keys WHERE key = ?1 AND token = ?2 AND status IS NULL",
    )
    .and_then(|mut s| s.execute(params![key, token]))
    .ctx("releasing an idempotency key")?;
    Ok(())
}

pub(super) fn purge_keys(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM idempotency_keys WHERE key IN
                 (SELECT key FROM idempotency_keys WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![ms(now), limit]))
        .ctx("purging idempotency keys")?;
    Ok(n as u64)
}

pub(super) fn expunge_message(conn: &Connection, app: &AppId, msg: &MsgId) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "UPDATE messages SET payload = NULL, payload_expires_at = NULL
             WHERE app_id = ?1 AND id = ?2",
        )
        .and_then(|mut s| s.execute([app.as_str(), msg.as_str()]))
        .ctx("expunging a message's payload")?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn expunge_attempt(
    conn: &Connection,
    app: &AppId,
    msg: &MsgId,
    attempt: &AttemptId,
) -> StoreResult<()> {
    let n = conn
        .prepare_cached(
            "UPDATE attempts SET response = '' WHERE app_id = ?1 AND msg_id = ?2 AND id = ?3",
        )
        .and_then(|mut s| s.execute([app.as_str(), msg.as_str(), attempt.as_str()]))
        .ctx("expunging an attempt's response")?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn purge_payloads(conn: &Connection, now: Timestamp, limit: u32) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "UPDATE messages SET payload = NULL, payload_expires_at = NULL WHERE id IN
                 (SELECT m.id FROM messages m WHERE m.payload_expires_at <= ?1
                  AND NOT EXISTS (SELECT 1 FROM message_destinations d
                      WHERE d.msg_id = m.id AND d.status IN (?3, ?4))
                  LIMIT ?2)",
        )
        .and_then(|mut s| {
            s.execute(params![
                ms(now),
                limit,
                DeliveryStatus::Pending.as_i64(),
                DeliveryStatus::Sending.as_i64()
            ])
        })
        .ctx("purging expired payloads")?;
    Ok(n as u64)
}

pub(super) fn purge_attempts(conn: &Connection, before: Timestamp, limit: u32) -> StoreResult<u64> {
    let n = conn
        .prepare_cached(
            "DELETE FROM attempts WHERE id IN
                 (SELECT id FROM attempts WHERE id < ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![attempt_id_floor(before), limit]))
        .ctx("purging old attempts")?;
    Ok(n as u64)
}
