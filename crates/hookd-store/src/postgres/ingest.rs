//! Events received through ingest sources: the de-duplication entries (`ingest_dedup`),
//! the message written with its forward metadata, and the rejection log
//! (`ingest_rejections`). Sources themselves live in `sources.rs`.
//!
//! Events are normally written in batches by `batcher.rs`. [`insert_message`] writes one
//! event alone, in one statement (one round trip, one commit): the dedup upsert, the
//! message and its destinations, and the notification to other nodes, with the batch
//! statement's flow-control probe and `NOTIFY` rule. The batcher uses it for the events it
//! cannot settle in a batch.

use super::batch_insert::DestinationColumns;
use super::codec::{col, json_col, ms, ms_opt, to_json, to_json_opt, ts_col};
use super::query::{execute, query, query_opt, ListQuery};
use crate::{IngestDedup, IngestWrite, Page, PageRequest, StoreError, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{MsgId, RejectionId, SourceId};
use hookd_core::model::{DeliveryStatus, IngestRejection, Message, MessageDestination};
use hookd_core::Timestamp;
use tokio_postgres::Row;

/// The event's write. `taken` upserts the dedup entry (`$22`-`$24`, all NULL without
/// one) unless an entry expiring after the message's creation (`$8`) holds it; the
/// message (`$1`-`$10`, its `traceparent` `$25`) and its destinations (`$11`-`$19`) are written only when there is
/// no entry or it was taken. `held` reads the holder as of the statement's snapshot;
/// `$20`/`$21` are the notification channel and whether to raise it (see `batch_insert.rs`).
/// Returns the message id when written, else the holder's.
const INSERT_SQL: &str = "WITH taken AS (
        INSERT INTO ingest_dedup (source_id, event_id, msg_id, expires_at)
        SELECT $22::text, $23::text, $1::text, $24::bigint WHERE $22::text IS NOT NULL
        ON CONFLICT (source_id, event_id) DO UPDATE SET msg_id = EXCLUDED.msg_id,
            expires_at = EXCLUDED.expires_at
        WHERE ingest_dedup.expires_at <= $8::bigint
        RETURNING msg_id
    ), held AS (
        SELECT msg_id FROM ingest_dedup
        WHERE source_id = $22::text AND event_id = $23::text AND expires_at > $8::bigint
    ), msg AS (
        INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, tags,
            created_at, payload_expires_at, forward, traceparent)
        SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::text, $7::text,
            $8::bigint, $9::bigint, $10::text, $25::text
        WHERE $22::text IS NULL OR EXISTS (SELECT 1 FROM taken)
        RETURNING id
    ), dests AS (
        INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status, attempt_count,
            next_attempt_at, last_attempt_at, trigger, lease_owner, flow)
        SELECT d.*, CASE WHEN EXISTS (SELECT 1 FROM flow_endpoints f
                WHERE f.endpoint_id = d.endpoint_id FOR KEY SHARE) THEN 1 ELSE 0 END
        FROM unnest($11::text[], $12::text[], $13::text[], $14::smallint[],
            $15::bigint[], $16::bigint[], $17::bigint[], $18::smallint[], $19::text[])
            AS d(msg_id, endpoint_id, app_id, status, attempt_count, next_attempt_at,
                last_attempt_at, trigger, lease_owner)
        JOIN msg ON msg.id = d.msg_id
        RETURNING status, lease_owner
    ), notified AS (
        SELECT pg_notify($20, '') FROM dests
        WHERE dests.status = 1 AND dests.lease_owner IS NULL AND $21::boolean
        LIMIT 1
    )
    SELECT (SELECT id FROM msg), (SELECT msg_id FROM held LIMIT 1),
        (SELECT count(*) FROM notified)";

/// Tries of [`INSERT_SQL`] when a concurrent write held the entry but committed after the
/// statement's snapshot (so `held` could not see it); the next try sees it.
const TRIES: usize = 3;

/// Writes one event unless its dedup entry is held; see
/// [`crate::Store::create_ingest_message`].
pub(super) async fn insert_message(
    client: &Client,
    channel: &str,
    msg: &Message,
    dests: &[MessageDestination],
    forward: &str,
    dedup: Option<&IngestDedup>,
) -> StoreResult<IngestWrite> {
    let mut d = DestinationColumns::default();
    for dest in dests {
        d.push(dest);
    }
    let wake_others = dests
        .iter()
        .any(|dest| dest.status == DeliveryStatus::Pending && dest.lease_owner.is_none());
    let (channels, tags) = (
        to_json_opt(msg.channels.as_ref())?,
        to_json_opt(msg.tags.as_ref())?,
    );
    let (id, created_at) = (msg.id.as_str(), ms(msg.created_at));
    let payload_expires_at = ms_opt(msg.payload_expires_at);
    let source = dedup.map(|e| e.source_id.as_str());
    let event = dedup.map(|e| e.event_id.as_str());
    let expires_at = dedup.map(|e| ms(e.expires_at));
    let traceparent = msg.trace.map(|t| t.to_traceparent());
    for _ in 0..TRIES {
        let row = query_opt(
            client,
            INSERT_SQL,
            &[
                &id,
                &msg.app_id.as_str(),
                &msg.event_id,
                &msg.event_type,
                &msg.payload.as_deref(),
                &channels,
                &tags,
                &created_at,
                &payload_expires_at,
                &forward,
                &d.msg_id,
                &d.endpoint_id,
                &d.app_id,
                &d.status,
                &d.attempt_count,
                &d.next_attempt_at,
                &d.last_attempt_at,
                &d.trigger,
                &d.lease_owner,
                &channel,
                &wake_others,
                &source,
                &event,
                &expires_at,
                &traceparent,
            ],
            "inserting an ingest event",
        )
        .await?
        .ok_or_else(|| StoreError::Other(anyhow::anyhow!("inserting an ingest event: no row")))?;
        if col::<Option<&str>>(&row, 0)?.is_some() {
            return Ok(IngestWrite::Created);
        }
        if let Some(earlier) = col::<Option<String>>(&row, 1)? {
            return Ok(IngestWrite::Duplicate(MsgId::from_trusted(earlier)));
        }
    }
    Err(StoreError::Unavailable(
        "inserting an ingest event: its de-duplication entry kept changing".into(),
    ))
}

/// The `forward` JSON of a message (`None` for other messages and unknown ids).
pub(super) async fn forward(client: &Client, msg: &MsgId) -> StoreResult<Option<String>> {
    let row = query_opt(
        client,
        "SELECT forward FROM messages WHERE id = $1",
        &[&msg.as_str()],
        "reading a message's forward metadata",
    )
    .await?;
    match row {
        Some(row) => col(&row, 0),
        None => Ok(None),
    }
}

pub(super) async fn insert_rejection(client: &Client, r: &IngestRejection) -> StoreResult<()> {
    // PostgreSQL text cannot hold U+0000 (headers are JSON, which escapes it).
    let detail = r.detail.replace('\0', "\u{fffd}");
    execute(
        client,
        "INSERT INTO ingest_rejections (id, source_id, code, detail, headers, body, body_size,
         received_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &r.id.as_str(),
            &r.source_id.as_str(),
            &r.code,
            &detail,
            &to_json(&r.headers)?,
            &r.body,
            &i64::try_from(r.body_size).unwrap_or(i64::MAX),
            &ms(r.received_at),
        ],
        "recording an ingest rejection",
    )
    .await?;
    Ok(())
}

const SELECT_REJECTION: &str = "SELECT id, source_id, code, detail, headers, body, body_size,
    received_at FROM ingest_rejections";

fn rejection_from_row(row: &Row) -> StoreResult<IngestRejection> {
    Ok(IngestRejection {
        id: RejectionId::from_trusted(col(row, 0)?),
        source_id: SourceId::from_trusted(col(row, 1)?),
        code: col(row, 2)?,
        detail: col(row, 3)?,
        headers: json_col(row, 4)?,
        body: col(row, 5)?,
        body_size: u64::try_from(col::<i64>(row, 6)?).unwrap_or(0),
        received_at: ts_col(row, 7)?,
    })
}

/// A source's rejections in id order, paged by id (`ingest_rejections_by_source`).
pub(super) async fn list_rejections(
    client: &Client,
    source: &SourceId,
    page: &PageRequest,
) -> StoreResult<Page<IngestRejection>> {
    let mut query = ListQuery::new(SELECT_REJECTION);
    query.and("source_id = $", source.as_str().to_owned());
    query
        .fetch_page(client, "id", page, rejection_from_row)
        .await
}

/// Deletes up to `limit` expired dedup entries and up to `limit` old rejections, in one
/// statement; rows another purge holds are skipped, so concurrent purges never wait.
pub(super) async fn purge(
    client: &Client,
    now: Timestamp,
    rejections_before: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let rows = query(
        client,
        "WITH entries AS (
            DELETE FROM ingest_dedup WHERE (source_id, event_id) IN
                (SELECT source_id, event_id FROM ingest_dedup WHERE expires_at <= $1
                 LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING 1
        ), rejections AS (
            DELETE FROM ingest_rejections WHERE id IN
                (SELECT id FROM ingest_rejections WHERE received_at < $2
                 LIMIT $3 FOR UPDATE SKIP LOCKED)
            RETURNING 1
        )
        SELECT (SELECT count(*) FROM entries) + (SELECT count(*) FROM rejections)",
        &[&ms(now), &ms(rejections_before), &i64::from(limit)],
        "purging ingest records",
    )
    .await?;
    let purged: i64 = match rows.first() {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    Ok(u64::try_from(purged).unwrap_or(0))
}
