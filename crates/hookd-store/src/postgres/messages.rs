//! Messages: the `messages` table. A message and its destinations are written by one
//! statement (so atomically, in one round trip); payloads are stored as the exact text
//! given. The same statement raises the due signal of the other nodes when it leaves work
//! for them, which PostgreSQL delivers only once the statement commits.

use super::codec::ts_col;
use super::codec::{col, json_col_opt, ms, ms_opt, status_code, to_json_opt, trigger_code};
use super::query::{execute, fetch_one, query, ListQuery};
use super::queue;
use crate::{MessageFilter, Page, PageRequest, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, MsgId};
use hookd_core::model::{DeliveryStatus, Message, MessageDestination};
use std::sync::Arc;
use tokio_postgres::Row;

const WITH_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, payload, channels, tags,
    created_at FROM messages";
/// Leaves the payload unread (it is the bulk of the row).
const WITHOUT_PAYLOAD: &str = "SELECT id, app_id, event_id, event_type, NULL::text, channels,
    tags, created_at FROM messages";

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
    })
}

/// The message row, then every destination from parallel arrays, then the notification
/// (`$18` is the channel, `$19` whether anything was left unclaimed).
const INSERT_SQL: &str = "WITH msg AS (
        INSERT INTO messages (id, app_id, event_id, event_type, payload, channels, tags,
            created_at)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
    ), dests AS (
        INSERT INTO message_destinations (msg_id, endpoint_id, app_id, status, attempt_count,
            next_attempt_at, last_attempt_at, trigger, lease_owner)
        SELECT * FROM unnest($9::text[], $10::text[], $11::text[], $12::smallint[],
            $13::bigint[], $14::bigint[], $15::bigint[], $16::smallint[], $17::text[])
    )
    SELECT pg_notify($18, '') WHERE $19::boolean";

/// The destinations as one array per column, for `unnest`.
#[derive(Default)]
struct Columns<'a> {
    msg_id: Vec<&'a str>,
    endpoint_id: Vec<&'a str>,
    app_id: Vec<&'a str>,
    status: Vec<i16>,
    attempt_count: Vec<i64>,
    next_attempt_at: Vec<Option<i64>>,
    last_attempt_at: Vec<Option<i64>>,
    trigger: Vec<i16>,
    lease_owner: Vec<Option<&'a str>>,
}

impl<'a> Columns<'a> {
    fn of(dests: &'a [MessageDestination]) -> Self {
        let mut c = Self::default();
        for d in dests {
            c.msg_id.push(d.msg_id.as_str());
            c.endpoint_id.push(d.endpoint_id.as_str());
            c.app_id.push(d.app_id.as_str());
            c.status.push(status_code(d.status));
            c.attempt_count.push(i64::from(d.attempt_count));
            c.next_attempt_at.push(ms_opt(d.next_attempt_at));
            c.last_attempt_at.push(ms_opt(d.last_attempt_at));
            c.trigger.push(trigger_code(d.trigger));
            c.lease_owner.push(d.lease_owner.as_deref());
        }
        c
    }
}

/// Inserts the message and each destination as given; notifies `channel` if a pending
/// destination is not claimed by this node.
pub(super) async fn insert(
    client: &Client,
    msg: &Message,
    dests: &[MessageDestination],
    channel: &str,
) -> StoreResult<()> {
    let channels = to_json_opt(msg.channels.as_ref())?;
    let tags = to_json_opt(msg.tags.as_ref())?;
    let c = Columns::of(dests);
    let wake_others = dests
        .iter()
        .any(|d| d.status == DeliveryStatus::Pending && d.lease_owner.is_none());
    execute(
        client,
        INSERT_SQL,
        &[
            &msg.id.as_str(),
            &msg.app_id.as_str(),
            &msg.event_id,
            &msg.event_type,
            &msg.payload.as_deref(),
            &channels,
            &tags,
            &ms(msg.created_at),
            &c.msg_id,
            &c.endpoint_id,
            &c.app_id,
            &c.status,
            &c.attempt_count,
            &c.next_attempt_at,
            &c.last_attempt_at,
            &c.trigger,
            &c.lease_owner,
            &channel,
            &wake_others,
        ],
        "inserting a message",
    )
    .await?;
    Ok(())
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
    if !filter.event_types.is_empty() {
        query.and("event_type = ANY($)", filter.event_types.clone());
    }
    if let Some(channel) = &filter.channel {
        // `channels` is a JSON array of strings; `?` tests for a top-level element.
        query.and("channels::jsonb ? $", channel.clone());
    }
    if let Some(before) = filter.before {
        query.and("created_at < $", ms(before));
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
