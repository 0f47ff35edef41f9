//! Attempts: the `attempts` table, one row per HTTP request made. Written only by
//! `record_outcomes` (see `queue`); listed per app with filters that may join the message.

use super::codec::{col, corrupt, int_col, status_col, trigger_col, ts_col};
use super::query::{fetch_one, ListQuery};
use crate::{AttemptFilter, Page, PageRequest, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::model::Attempt;
use tokio_postgres::Row;

const SELECT: &str = "SELECT a.id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status,
    a.response_status_code, a.response, a.response_duration_ms, a.trigger, a.created_at
    FROM attempts a";
const SELECT_JOINED: &str = "SELECT a.id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status,
    a.response_status_code, a.response, a.response_duration_ms, a.trigger, a.created_at
    FROM attempts a JOIN messages m ON m.id = a.msg_id";

fn from_row(row: &Row) -> StoreResult<Attempt> {
    let code: i32 = col(row, 6)?;
    Ok(Attempt {
        id: AttemptId::from_trusted(col(row, 0)?),
        msg_id: MsgId::from_trusted(col(row, 1)?),
        endpoint_id: EndpointId::from_trusted(col(row, 2)?),
        app_id: AppId::from_trusted(col(row, 3)?),
        url: col(row, 4)?,
        status: status_col(row, 5)?,
        response_status_code: u16::try_from(code).map_err(|_| corrupt(6, "not an HTTP status"))?,
        response: col(row, 7)?,
        response_duration_ms: int_col(row, 8)?,
        trigger: trigger_col(row, 9)?,
        created_at: ts_col(row, 10)?,
    })
}

pub(super) async fn get(
    client: &Client,
    app: &AppId,
    msg: &MsgId,
    id: &AttemptId,
) -> StoreResult<Attempt> {
    let sql = format!("{SELECT} WHERE a.id = $1 AND a.app_id = $2 AND a.msg_id = $3");
    fetch_one(
        client,
        &sql,
        &[&id.as_str(), &app.as_str(), &msg.as_str()],
        "reading an attempt",
        from_row,
    )
    .await
}

pub(super) async fn list(
    client: &Client,
    app: &AppId,
    f: &AttemptFilter,
    page: &PageRequest,
) -> StoreResult<Page<Attempt>> {
    let joins_message = !f.event_types.is_empty() || f.channel.is_some();
    let mut query = ListQuery::new(if joins_message { SELECT_JOINED } else { SELECT });
    query.and("a.app_id = $", app.as_str().to_owned());
    if let Some(msg) = &f.msg_id {
        query.and("a.msg_id = $", msg.as_str().to_owned());
    }
    if let Some(ep) = &f.endpoint_id {
        query.and("a.endpoint_id = $", ep.as_str().to_owned());
    }
    if let Some(status) = f.status {
        query.and("a.status = $", super::codec::status_code(status));
    }
    if let Some((lo, hi)) = f.status_code_range {
        query.and("a.response_status_code >= $", i32::from(lo));
        query.and("a.response_status_code <= $", i32::from(hi));
    }
    if !f.event_types.is_empty() {
        query.and("m.event_type = ANY($)", f.event_types.clone());
    }
    if let Some(channel) = &f.channel {
        query.and("m.channels::jsonb ? $", channel.clone());
    }
    let (upper, lower) = crate::created_id_bounds("atmpt", f.before, f.after);
    if let Some(before) = f.before {
        query.and("a.created_at < $", before.as_millis());
    }
    if let Some(upper) = upper {
        query.and("a.id < $", upper);
    }
    if let Some(lower) = lower {
        query.and("a.id >= $", lower);
    }
    if let Some(after) = f.after {
        query.and("a.created_at > $", after.as_millis());
    }
    query.fetch_page(client, "a.id", page, from_row).await
}
