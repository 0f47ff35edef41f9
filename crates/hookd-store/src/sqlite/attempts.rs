//! Attempts: the `attempts` table, one row per HTTP request made. Written only by
//! `record_outcome`; listed per app with filters that may join the message.

use super::codec::{ms, status_col, trigger_col, ts_col, SqlContext};
use super::query::{json_list, ListQuery};
use crate::{AttemptFilter, Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::model::Attempt;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "SELECT a.id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status,
    a.response_status_code, a.response, a.response_duration_ms, a.trigger, a.created_at
    FROM attempts a";
const SELECT_JOINED: &str = "SELECT a.id, a.msg_id, a.endpoint_id, a.app_id, a.url, a.status,
    a.response_status_code, a.response, a.response_duration_ms, a.trigger, a.created_at
    FROM attempts a JOIN messages m ON m.id = a.msg_id";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Attempt> {
    Ok(Attempt {
        id: AttemptId::from_trusted(row.get(0)?),
        msg_id: MsgId::from_trusted(row.get(1)?),
        endpoint_id: EndpointId::from_trusted(row.get(2)?),
        app_id: AppId::from_trusted(row.get(3)?),
        url: row.get(4)?,
        status: status_col(row, 5)?,
        response_status_code: row.get(6)?,
        response: row.get(7)?,
        response_duration_ms: row.get(8)?,
        trigger: trigger_col(row, 9)?,
        created_at: ts_col(row, 10)?,
    })
}

pub(super) fn insert(conn: &Connection, a: &Attempt) -> StoreResult<()> {
    let duration = i64::try_from(a.response_duration_ms).unwrap_or(i64::MAX);
    conn.prepare_cached(
        "INSERT INTO attempts (id, msg_id, endpoint_id, app_id, url, status,
         response_status_code, response, response_duration_ms, trigger, created_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
    )
    .and_then(|mut s| {
        s.execute(params![
            a.id.as_str(),
            a.msg_id.as_str(),
            a.endpoint_id.as_str(),
            a.app_id.as_str(),
            a.url,
            a.status.as_i64(),
            a.response_status_code,
            a.response,
            duration,
            a.trigger.as_i64(),
            ms(a.created_at)
        ])
    })
    .ctx("inserting an attempt")?;
    Ok(())
}

pub(super) fn get(
    conn: &Connection,
    app: &AppId,
    msg: &MsgId,
    id: &AttemptId,
) -> StoreResult<Attempt> {
    conn.prepare_cached(&format!(
        "{SELECT} WHERE a.id = ?1 AND a.app_id = ?2 AND a.msg_id = ?3"
    ))
    .and_then(|mut s| {
        s.query_row([id.as_str(), app.as_str(), msg.as_str()], from_row)
            .optional()
    })
    .ctx("reading an attempt")?
    .ok_or(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    app: &AppId,
    f: &AttemptFilter,
    page: &PageRequest,
) -> StoreResult<Page<Attempt>> {
    let joins_message = !f.event_types.is_empty() || f.channel.is_some();
    let mut query = ListQuery::new(if joins_message { SELECT_JOINED } else { SELECT });
    query.and("a.app_id = ?", app.as_str().to_owned());
    if let Some(msg) = &f.msg_id {
        query.and("a.msg_id = ?", msg.as_str().to_owned());
    }
    if let Some(ep) = &f.endpoint_id {
        query.and("a.endpoint_id = ?", ep.as_str().to_owned());
    }
    if let Some(status) = f.status {
        query.and("a.status = ?", status.as_i64());
    }
    if let Some((lo, hi)) = f.status_code_range {
        query.and("a.response_status_code >= ?", i64::from(lo));
        query.and("a.response_status_code <= ?", i64::from(hi));
    }
    if !f.event_types.is_empty() {
        query.and(
            "m.event_type IN (SELECT value FROM json_each(?))",
            json_list(&f.event_types),
        );
    }
    if let Some(channel) = &f.channel {
        query.and(
            "EXISTS (SELECT 1 FROM json_each(m.channels) WHERE value = ?)",
            channel.clone(),
        );
    }
    let (upper, lower) = crate::created_id_bounds("atmpt", f.before, f.after);
    if let Some(before) = f.before {
        query.and("a.created_at < ?", ms(before));
    }
    if let Some(upper) = upper {
        query.and("a.id < ?", upper);
    }
    if let Some(lower) = lower {
        query.and("a.id >= ?", lower);
    }
    if let Some(after) = f.after {
        query.and("a.created_at > ?", ms(after));
    }
    query.fetch_page(conn, "a.id", page, from_row)
}
