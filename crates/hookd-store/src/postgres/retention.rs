//! Idempotency keys (the `idempotency_keys` table) and data retention: expunging payloads
//! and attempt bodies, and the cleaner's bounded purges. Purges lock at most `limit` rows
//! and skip rows another node is purging (`SKIP LOCKED`), so several nodes' cleaners never
//! wait on each other and never hold locks for long.

use super::codec::{col, ms, status_code, ts_col};
use super::query::{execute, query_opt};
use crate::{
    attempt_id_floor, IdempotencyClaim, IdempotencyRecord, IdempotencyReservation, StoreError,
    StoreResult,
};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, AttemptId, MsgId};
use hookd_core::model::DeliveryStatus;
use hookd_core::Timestamp;
use tokio_postgres::Row;

fn record_from_row(row: &Row) -> StoreResult<IdempotencyRecord> {
    let status: Option<i32> = col(row, 1)?;
    let body: Option<Vec<u8>> = col(row, 2)?;
    Ok(IdempotencyRecord {
        fingerprint: col(row, 0)?,
        response: status.map(|s| (u16::try_from(s).unwrap_or(500), body.unwrap_or_default())),
        locked_until: ts_col(row, 3)?,
        expires_at: ts_col(row, 4)?,
    })
}

pub(super) async fn get_key(
    client: &Client,
    key: &str,
    now: Timestamp,
) -> StoreResult<Option<IdempotencyRecord>> {
    query_opt(
        client,
        "SELECT fingerprint, status, response, locked_until, expires_at FROM idempotency_keys
         WHERE key = $1 AND expires_at > $2",
        &[&key, &ms(now)],
        "reading an idempotency key",
    )
    .await?
    .as_ref()
    .map(record_from_row)
    .transpose()
}

/// Takes the key if free, expired or held by a lapsed reservation. The upsert is atomic
/// (a concurrent insert of the same key waits for the other's commit, then sees it); the
/// read that follows may miss a row purged or taken meanwhile, so the pair is retried.
pub(super) async fn reserve(
    client: &Client,
    claim: &IdempotencyClaim,
) -> StoreResult<IdempotencyReservation> {
    for _ in 0..3 {
        let taken = execute(
            client,
            "INSERT INTO idempotency_keys (key, fingerprint, token, status, response,
                 locked_until, expires_at) VALUES ($1, $2, $3, NULL, NULL, $4, $5)
             ON CONFLICT (key) DO UPDATE SET fingerprint = excluded.fingerprint,
                 token = excluded.token, status = NULL, response = NULL,
                 locked_until = excluded.locked_until, expires_at = excluded.expires_at
             WHERE idempotency_keys.expires_at <= $6
                OR (idempotency_keys.status IS NULL AND idempotency_keys.locked_until <= $6)",
            &[
                &claim.key,
                &claim.fingerprint,
                &claim.token,
                &ms(claim.locked_until),
                &ms(claim.expires_at),
                &ms(claim.now),
            ],
            "reserving an idempotency key",
        )
        .await?;
        if taken == 1 {
            return Ok(IdempotencyReservation::Reserved);
        }
        if let Some(record) = get_key(client, &claim.key, claim.now).await? {
            return Ok(IdempotencyReservation::Existing(record));
        }
    }
    Err(StoreError::Other(anyhow::anyhow!(
        "an idempotency key kept changing while being reserved"
    )))
}

pub(super) async fn complete(
    client: &Client,
    key: &str,
    token: &str,
    status: u16,
    body: &[u8],
) -> StoreResult<bool> {
    let n = execute(
        client,
        "UPDATE idempotency_keys SET status = $3, response = $4
         WHERE key = $1 AND token = $2 AND status IS NULL",
        &[&key, &token, &i32::from(status), &body],
        "storing an idempotent response",
    )
    .await?;
    Ok(n == 1)
}

pub(super) async fn release(client: &Client, key: &str, token: &str) -> StoreResult<()> {
    execute(
        client,
        "DELETE FROM idempotency_keys WHERE key = $1 AND token = $2 AND status IS NULL",
        &[&key, &token],
        "releasing an idempotency key",
    )
    .await
    .map(drop)
}

pub(super) async fn purge_keys(client: &Client, now: Timestamp, limit: u32) -> StoreResult<u64> {
    execute(
        client,
        "DELETE FROM idempotency_keys WHERE key IN
             (SELECT key FROM idempotency_keys WHERE expires_at <= $1 LIMIT $2
              FOR UPDATE SKIP LOCKED)",
        &[&ms(now), &i64::from(limit)],
        "purging idempotency keys",
    )
    .await
}

pub(super) async fn expunge_message(client: &Client, app: &AppId, msg: &MsgId) -> StoreResult<()> {
    let n = execute(
        client,
        "UPDATE messages SET payload = NULL, payload_expires_at = NULL
         WHERE app_id = $1 AND id = $2",
        &[&app.as_str(), &msg.as_str()],
        "expunging a message's payload",
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn expunge_attempt(
    client: &Client,
    app: &AppId,
    msg: &MsgId,
    attempt: &AttemptId,
) -> StoreResult<()> {
    let n = execute(
        client,
        "UPDATE attempts SET response = '' WHERE app_id = $1 AND msg_id = $2 AND id = $3",
        &[&app.as_str(), &msg.as_str(), &attempt.as_str()],
        "expunging an attempt's response",
    )
    .await?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn purge_payloads(
    client: &Client,
    now: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    execute(
        client,
        "UPDATE messages SET payload = NULL, payload_expires_at = NULL WHERE id IN
             (SELECT m.id FROM messages m WHERE m.payload_expires_at <= $1
              AND NOT EXISTS (SELECT 1 FROM message_destinations d
                  WHERE d.msg_id = m.id AND d.status IN ($3, $4))
              LIMIT $2 FOR UPDATE OF m SKIP LOCKED)",
        &[
            &ms(now),
            &i64::from(limit),
            &status_code(DeliveryStatus::Pending),
            &status_code(DeliveryStatus::Sending),
        ],
        "purging expired payloads",
    )
    .await
}

pub(super) async fn purge_attempts(
    client: &Client,
    before: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    execute(
        client,
        "DELETE FROM attempts WHERE id IN
             (SELECT id FROM attempts WHERE id < $1 LIMIT $2 FOR UPDATE SKIP LOCKED)",
        &[&attempt_id_floor(before), &i64::from(limit)],
        "purging old attempts",
    )
    .await
}
