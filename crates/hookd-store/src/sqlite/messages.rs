//! Messages: the `messages` table. A message is written together with its destinations
//! (in the writer's job, so atomically); payloads are stored as the exact text given.

use super::codec::{
    json_col_opt, ms, ms_opt, to_json_opt, trace_col, ts_col, ts_col_opt, unique_or_other,
    SqlContext,
};
use super::query::{json_list, ListQuery};
use super::queue;
use crate::{MessageFilter, Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::{AppId, MsgId};
use hookd_core::model::{Message, MessageDestination};
use rusqlite::{params, Connection, OptionalExtension, Row};
use std::sync::Arc;

const WITH_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, payload, channels, tags,
    created_at, payload_expires_at, traceparent FROM messages";
/// Leaves the payload unread (it is the bulk of the row).
const WITHOUT_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, NULL, channels, tags,
    created_at, payload_expires_at, traceparent FROM messages";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Message> {
    Ok(Message {
        id: MsgId::from_trusted(row.get(0)?),
        app_id: AppId::from_trusted(row.get(1)?),
        event_id: row.get(2)?,
        event_type: row.get(3)?,
        payload: row.get::<_, Option<String>>(4)?.map(Arc::from),
        channels: json_col_opt(row, 5)?,
        tags: json_col_opt(row, 6)?,
        created_at: ts_col(row, 7)?,
        payload_expires_at: ts_col_opt(row, 8)?,
        trace: trace_col(row, 9)?,
    })
}

/// Inserts the message and each destination as given; `forward` only for an event
/// received through an ingest source.
pub(super) fn insert(
    conn: &Connection,
    msg: &Message,
    dests: &[MessageDestination],
    forward: Option<&str>,
) -> StoreResult<()> {
    let channels = to_json_opt(msg.channels.as_ref())?;
    let tags = to_json_opt(msg.tags.as_ref())?;
    conn.prepare_cached(
        "INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, tags,
         created_at, payload_expires_at, forward, traceparent)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            msg.id.as_str(),
            msg.app_id.as_str(),
            msg.event_id,
            msg.event_type,
            msg.payload.as_deref(),
            channels,
            tags,
            ms(msg.created_at),
            ms_opt(msg.payload_expires_at),
            forward,
            msg.trace.map(|t| t.to_traceparent())
        ])
    })
    .map_err(|e| unique_or_other(e, "messages.event_id", "eventId", "inserting a message"))?;
    for dest in dests {
        queue::insert_destination(conn, dest)?;
    }
    Ok(())
}

/// The `forward` JSON of a message (`None` for a message not received through an ingest
/// source, or one that does not exist).
pub(super) fn forward(conn: &Connection, msg: &MsgId) -> StoreResult<Option<String>> {
    let found: Option<Option<String>> = conn
        .prepare_cached("SELECT forward FROM messages WHERE id = ?1")
        .and_then(|mut s| s.query_row([msg.as_str()], |r| r.get(0)).optional())
        .ctx("reading a message's forward metadata")?;
    Ok(found.flatten())
}

/// A message of `app`, by id first, else by event id.
pub(super) fn get(conn: &Connection, app: &AppId, id_or_event_id: &str) -> StoreResult<Message> {
    for key in ["id", "event_id"] {
        let found = conn
            .prepare_cached(&format!("{WITH_PAYLOAD} WHERE app_id = ?1 AND {key} = ?2"))
            .and_then(|mut s| {
                s.query_row([app.as_str(), id_or_event_id], from_row)
                    .optional()
            })
            .ctx("reading a message")?;
        if let Some(msg) = found {
            return Ok(msg);
        }
    }
    Err(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    app: &AppId,
    filter: &MessageFilter,
    page: &PageRequest,
) -> StoreResult<Page<Message>> {
    let mut query = ListQuery::new(if filter.with_content {
        WITH_PAYLOAD
    } else {
        WITHOUT_PAYLOAD
    });
    query.and("app_id = ?", app.as_str().to_owned());
    if let [one] = filter.event_types.as_slice() {
        // One type walks `messages_by_event_type` in id order, however rare the type.
        query.and("event_type = ?", one.clone());
    } else if !filter.event_types.is_empty() {
        // Several: the app's messages in id order, each checked (`+` keeps SQLite from
        // collecting every match through the index and sorting them).
        query.and(
            "+event_type IN (SELECT value FROM json_each(?))",
            json_list(&filter.event_types),
        );
    }
    if let Some(channel) = &filter.channel {
        query.and(
            "EXISTS (SELECT 1 FROM json_each(channels) WHERE value = ?)",
            channel.clone(),
        );
    }
    let (upper, lower) = crate::created_id_bounds("msg", filter.before, filter.after);
    if let Some(before) = filter.before {
        query.and("created_at < ?", ms(before));
    }
    if let Some(upper) = upper {
        query.and("id < ?", upper);
    }
    if let Some(lower) = lower {
        query.and("id >= ?", lower);
    }
    if let Some(after) = filter.after {
        query.and("created_at > ?", ms(after));
    }
    query.fetch_page(conn, "id", page, from_row)
}

/// The destinations of a message of `app`, ordered by endpoint id.
pub(super) fn destinations(
    conn: &Connection,
    app: &AppId,
    msg: &MsgId,
) -> StoreResult<Vec<MessageDestination>> {
    let mut query = ListQuery::new(queue::SELECT_DESTINATION);
    query.and("msg_id = ?", msg.as_str().to_owned());
    query.and("app_id = ?", app.as_str().to_owned());
    query.order_by("endpoint_id");
    query.fetch_all(conn, queue::destination_from_row)
}
