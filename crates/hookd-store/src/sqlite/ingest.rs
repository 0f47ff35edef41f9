//! Events received through ingest sources: the de-duplication entries (`ingest_dedup`),
//! the message written with its forward metadata, and the rejection log
//! (`ingest_rejections`). Sources themselves live in `sources.rs`.
//!
//! An event is one writer job like `create_message` (so it shares its group commit): the
//! dedup upsert, then the message and destinations through `messages::insert`. The job
//! runs in its own savepoint, so a failure after the upsert leaves no entry behind.

use super::codec::{json_col, ms, to_json, ts_col, SqlContext};
use super::messages;
use super::query::ListQuery;
use crate::{IngestDedup, IngestWrite, Page, PageRequest, StoreResult};
use hookd_core::ids::{MsgId, RejectionId, SourceId};
use hookd_core::model::{IngestRejection, Message, MessageDestination};
use hookd_core::Timestamp;
use rusqlite::{params, Connection, OptionalExtension, Row};

/// Takes the entry for the event unless an unexpired one holds it: inserts it, or replaces
/// one that expired by `?5` (the message's creation time). Returns a row only when taken.
const TAKE_DEDUP_SQL: &str = "INSERT INTO ingest_dedup (source_id, event_id, msg_id, expires_at)
    VALUES (?1, ?2, ?3, ?4)
    ON CONFLICT (source_id, event_id) DO UPDATE SET msg_id = excluded.msg_id,
        expires_at = excluded.expires_at
    WHERE ingest_dedup.expires_at <= ?5
    RETURNING msg_id";

/// Writes the event unless its dedup entry is held; see [`crate::Store::create_ingest_message`].
pub(super) fn insert_message(
    conn: &Connection,
    msg: &Message,
    dests: &[MessageDestination],
    forward: &str,
    dedup: Option<&IngestDedup>,
) -> StoreResult<IngestWrite> {
    if let Some(d) = dedup {
        let taken = conn
            .prepare_cached(TAKE_DEDUP_SQL)
            .and_then(|mut s| {
                s.query_row(
                    params![
                        d.source_id.as_str(),
                        d.event_id,
                        msg.id.as_str(),
                        ms(d.expires_at),
                        ms(msg.created_at)
                    ],
                    |_| Ok(()),
                )
                .optional()
            })
            .ctx("taking an ingest de-duplication entry")?;
        if taken.is_none() {
            // The single writer runs jobs one at a time, so the holder is still there.
            let earlier: String = conn
                .prepare_cached(
                    "SELECT msg_id FROM ingest_dedup WHERE source_id = ?1 AND event_id = ?2",
                )
                .and_then(|mut s| s.query_row([d.source_id.as_str(), &d.event_id], |r| r.get(0)))
                .ctx("reading an ingest de-duplication entry")?;
            return Ok(IngestWrite::Duplicate(MsgId::from_trusted(earlier)));
        }
    }
    messages::insert(conn, msg, dests, Some(forward))?;
    Ok(IngestWrite::Created)
}

pub(super) fn insert_rejection(conn: &Connection, r: &IngestRejection) -> StoreResult<()> {
    let headers = to_json(&r.headers)?;
    conn.prepare_cached(
        "INSERT INTO ingest_rejections (id, source_id, code, detail, headers, body, body_size,
         received_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            r.id.as_str(),
            r.source_id.as_str(),
            r.code,
            r.detail,
            headers,
            r.body,
            i64::try_from(r.body_size).unwrap_or(i64::MAX),
            ms(r.received_at)
        ])
    })
    .ctx("recording an ingest rejection")?;
    Ok(())
}

const SELECT_REJECTION: &str = "SELECT id, source_id, code, detail, headers, body, body_size,
    received_at FROM ingest_rejections";

fn rejection_from_row(row: &Row<'_>) -> rusqlite::Result<IngestRejection> {
    Ok(IngestRejection {
        id: RejectionId::from_trusted(row.get(0)?),
        source_id: SourceId::from_trusted(row.get(1)?),
        code: row.get(2)?,
        detail: row.get(3)?,
        headers: json_col(row, 4)?,
        body: row.get(5)?,
        body_size: u64::try_from(row.get::<_, i64>(6)?).unwrap_or(0),
        received_at: ts_col(row, 7)?,
    })
}

/// A source's rejections in id order, paged by id (`ingest_rejections_by_source`).
pub(super) fn list_rejections(
    conn: &Connection,
    source: &SourceId,
    page: &PageRequest,
) -> StoreResult<Page<IngestRejection>> {
    let mut query = ListQuery::new(SELECT_REJECTION);
    query.and("source_id = ?", source.as_str().to_owned());
    query.fetch_page(conn, "id", page, rejection_from_row)
}

/// Deletes up to `limit` expired dedup entries and up to `limit` old rejections.
pub(super) fn purge(
    conn: &Connection,
    now: Timestamp,
    rejections_before: Timestamp,
    limit: u32,
) -> StoreResult<u64> {
    let entries = conn
        .prepare_cached(
            "DELETE FROM ingest_dedup WHERE (source_id, event_id) IN
                 (SELECT source_id, event_id FROM ingest_dedup WHERE expires_at <= ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![ms(now), limit]))
        .ctx("purging ingest de-duplication entries")?;
    let rejections = conn
        .prepare_cached(
            "DELETE FROM ingest_rejections WHERE id IN
                 (SELECT id FROM ingest_rejections WHERE received_at < ?1 LIMIT ?2)",
        )
        .and_then(|mut s| s.execute(params![ms(rejections_before), limit]))
        .ctx("purging ingest rejections")?;
    Ok((entries + rejections) as u64)
}

/// Deletes everything a source left behind: its rejections and dedup entries.
pub(super) fn forget_source(conn: &Connection, source: &SourceId) -> StoreResult<()> {
    for sql in [
        "DELETE FROM ingest_rejections WHERE source_id = ?1",
        "DELETE FROM ingest_dedup WHERE source_id = ?1",
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([source.as_str()]))
            .ctx("deleting an ingest source's records")?;
    }
    Ok(())
}
