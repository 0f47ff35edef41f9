//! Event types: the `event_types` table, addressed and paged by name.

use super::codec::{json_col_opt, ms, to_json_opt, ts_col, unique_or_other, SqlContext};
use super::query::ListQuery;
use crate::{Page, PageRequest, StoreError, StoreResult};
use hookd_core::model::EventType;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "SELECT name, description, archived, deprecated, schemas, feature_flag,
    created_at, updated_at FROM event_types";

fn from_row(row: &Row<'_>) -> rusqlite::Result<EventType> {
    Ok(EventType {
        name: row.get(0)?,
        description: row.get(1)?,
        archived: row.get(2)?,
        deprecated: row.get(3)?,
        schemas: json_col_opt(row, 4)?,
        feature_flag: row.get(5)?,
        created_at: ts_col(row, 6)?,
        updated_at: ts_col(row, 7)?,
    })
}

pub(super) fn insert(conn: &Connection, et: &EventType) -> StoreResult<()> {
    let schemas = to_json_opt(et.schemas.as_ref())?;
    conn.prepare_cached(
        "INSERT INTO event_types (name, description, archived, deprecated, schemas,
         feature_flag, created_at, updated_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )
    .and_then(|mut s| {
        s.execute(params![
            et.name,
            et.description,
            et.archived,
            et.deprecated,
            schemas,
            et.feature_flag,
            ms(et.created_at),
            ms(et.updated_at)
        ])
    })
    .map_err(|e| unique_or_other(e, "event_types.name", "name", "inserting an event type"))?;
    Ok(())
}

pub(super) fn get(conn: &Connection, name: &str) -> StoreResult<EventType> {
    conn.prepare_cached(&format!("{SELECT} WHERE name = ?1"))
        .and_then(|mut s| s.query_row([name], from_row).optional())
        .ctx("reading an event type")?
        .ok_or(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    page: &PageRequest,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let mut query = ListQuery::new(SELECT);
    if !include_archived {
        query.and_raw("archived = 0");
    }
    query.fetch_page(conn, "name", page, from_row)
}

pub(super) fn update(conn: &Connection, et: &EventType) -> StoreResult<()> {
    let schemas = to_json_opt(et.schemas.as_ref())?;
    let changed = conn
        .prepare_cached(
            "UPDATE event_types SET description = ?2, archived = ?3, deprecated = ?4,
             schemas = ?5, feature_flag = ?6, updated_at = ?7 WHERE name = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                et.name,
                et.description,
                et.archived,
                et.deprecated,
                schemas,
                et.feature_flag,
                ms(et.updated_at)
            ])
        })
        .ctx("updating an event type")?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) fn delete(conn: &Connection, name: &str) -> StoreResult<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM event_types WHERE name = ?1")
        .and_then(|mut s| s.execute([name]))
        .ctx("deleting an event type")?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
