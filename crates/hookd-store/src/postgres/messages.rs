//! Messages: the `messages` table, read here. New messages are written in batches by
//! `batcher` (a message and its destinations atomically; payloads stored as the exact text
//! given).

use super::codec::{col, json_col_opt, ms};
use super::codec::{trace_col, ts_col, ts_col_opt};
use super::query::{fetch_one, query, ListQuery};
use super::queue;
use crate::{MessageFilter, Page, PageRequest, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, MsgId};
use hookd_core::model::{Message, MessageDestination};
use std::sync::Arc;
use tokio_postgres::Row;

const WITH_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, payload, channels, tags,
    created_at, payload_expires_at, traceparent FROM messages";
/// Leaves the payload unread (it is the bulk of the row).
const WITHOUT_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, NULL::text, channels,
    tags, created_at, payload_expires_at, traceparent FROM messages";

fn from_row(row: &Row) -> StoreResult<Message> {
    Ok(Message {
        id: MsgId::from_trusted(col(row, 0)?),
        app_id: AppId::from_trusted(col(row, 1)?),
        event_id: col(row, 2)?,
        event_type: col(row, 3)?,
        payload: col::<Option<&str>>(row, 4)?.map(Arc::from),
        channels: json_col_opt(row, 5)?,
        tags: json_col_opt(row, 6)?,
        created_at: ts_col(row, 7)?,
        payload_expires_at: ts_col_opt(row, 8)?,
        trace: trace_col(row, 9)?,
    })
}

/// A message of `app`, by id first, else by event id (one lookup: an id match sorts first).
pub(super) async fn get(
    client: &Client,
    app: &AppId,
    id_or_event_id: &str,
) -> StoreResult<Message> {
    let sql = format!(
        "{WITH_PAYLOAD} WHERE app_id = $1 AND (id = $2 OR event_id = $2)
         ORDER BY id = $2 DESC LIMIT 1"
    );
    fetch_one(
        client,
        &sql,
        &[&app.as_str(), &id_or_event_id],
        "reading a message",
        from_row,
    )
    .await
}

pub(super) async fn list(
    client: &Client,
    app: &AppId,
    filter: &MessageFilter,
    page: &PageRequest,
) -> StoreResult<Page<Message>> {
    let mut query = ListQuery::new(if filter.with_content {
        WITH_PAYLOAD
    } else {
        WITHOUT_PAYLOAD
    });
    query.and("app_id = $", app.as_str().to_owned());
    if let [one] = filter.event_types.as_slice() {
        // One type walks `messages_by_event_type` in id order, however rare the type.
        query.and("event_type = $", one.clone());
    } else if !filter.event_types.is_empty() {
        query.and("event_type = ANY($)", filter.event_types.clone());
    }
    if let Some(channel) = &filter.channel {
        // `channels` is a JSON array of strings; `?` tests for a top-level element.
        query.and("channels::jsonb ? $", channel.clone());
    }
    let (upper, lower) = crate::created_id_bounds("msg", filter.before, filter.after);
    if let Some(before) = filter.before {
        query.and("created_at < $", ms(before));
    }
    if let Some(upper) = upper {
        query.and("id < $", upper);
    }
    if let Some(lower) = lower {
        query.and("id >= $", lower);
    }
    if let Some(after) = filter.after {
        query.and("created_at > $", ms(after));
    }
    query.fetch_page(client, "id", page, from_row).await
}

/// The destinations of a message of `app`, ordered by endpoint id.
pub(super) async fn destinations(
    client: &Client,
    app: &AppId,
    msg: &MsgId,
) -> StoreResult<Vec<MessageDestination>> {
    let sql = format!(
        "{} WHERE msg_id = $1 AND app_id = $2 ORDER BY endpoint_id",
        queue::SELECT_DESTINATION
    );
    let rows = query(
        client,
        &sql,
        &[&msg.as_str(), &app.as_str()],
        "listing a message's destinations",
    )
    .await?;
    rows.iter().map(queue::destination_from_row).collect()
}
