//! Applications: the `applications` table, and the cascade that deletes an app with
//! everything under it.

use super::codec::{json_col, ms, to_json, ts_col, unique_or_other, SqlContext};
use super::query::ListQuery;
use crate::{Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::AppId;
use hookd_core::model::Application;
use rusqlite::{params, Connection, OptionalExtension, Row};

const COLUMNS: &str = "id, uid, name, rate_limit, metadata, created_at, updated_at";

fn from_row(row: &Row<'_>) -> rusqlite::Result<Application> {
    Ok(Application {
        id: AppId::from_trusted(row.get(0)?),
        uid: row.get(1)?,
        name: row.get(2)?,
        rate_limit: row.get(3)?,
        metadata: json_col(row, 4)?,
        created_at: ts_col(row, 5)?,
        updated_at: ts_col(row, 6)?,
    })
}

pub(super) fn insert(conn: &Connection, app: &Application) -> StoreResult<()> {
    let metadata = to_json(&app.metadata)?;
    conn.prepare_cached(
        "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )
    .and_then(|mut s| {
        s.execute(params![
            app.id.as_str(),
            app.uid,
            app.name,
            app.rate_limit,
            metadata,
            ms(app.created_at),
            ms(app.updated_at)
        ])
    })
    .map_err(|e| unique_or_other(e, "applications.uid", "uid", "inserting an application"))?;
    Ok(())
}

/// By id first, else by uid.
pub(super) fn get(conn: &Connection, id_or_uid: &str) -> StoreResult<Application> {
    for sql in [
        "SELECT id, uid, name, rate_limit, metadata, created_at, updated_at
         FROM applications WHERE id = ?1",
        "SELECT id, uid, name, rate_limit, metadata, created_at, updated_at
         FROM applications WHERE uid = ?1",
    ] {
        let found = conn
            .prepare_cached(sql)
            .and_then(|mut s| s.query_row([id_or_uid], from_row).optional())
            .ctx("reading an application")?;
        if let Some(app) = found {
            return Ok(app);
        }
    }
    Err(StoreError::NotFound)
}

pub(super) fn list(conn: &Connection, page: &PageRequest) -> StoreResult<Page<Application>> {
    ListQuery::new(&format!("SELECT {COLUMNS} FROM applications"))
        .fetch_page(conn, "id", page, from_row)
}

pub(super) fn update(conn: &Connection, app: &Application) -> StoreResult<()> {
    let metadata = to_json(&app.metadata)?;
    let changed = conn
        .prepare_cached(
            "UPDATE applications SET uid = ?2, name = ?3, rate_limit = ?4, metadata = ?5,
             updated_at = ?6 WHERE id = ?1",
        )
        .and_then(|mut s| {
            s.execute(params![
                app.id.as_str(),
                app.uid,
                app.name,
                app.rate_limit,
                metadata,
                ms(app.updated_at)
            ])
        })
        .map_err(|e| unique_or_other(e, "applications.uid", "uid", "updating an application"))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the app, its endpoints, messages, destinations and attempts.
pub(super) fn delete(conn: &Connection, id: &AppId) -> StoreResult<()> {
    let id = id.as_str();
    let deleted = conn
        .prepare_cached("DELETE FROM applications WHERE id = ?1")
        .and_then(|mut s| s.execute([id]))
        .ctx("deleting an application")?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    for (sql, what) in [
        (
            "DELETE FROM message_destinations
             WHERE endpoint_id IN (SELECT id FROM endpoints WHERE app_id = ?1)",
            "deleting the app's deliveries by endpoint",
        ),
        (
            "DELETE FROM message_destinations
             WHERE msg_id IN (SELECT id FROM messages WHERE app_id = ?1)",
            "deleting the app's deliveries by message",
        ),
        (
            "DELETE FROM attempts WHERE app_id = ?1",
            "deleting the app's attempts",
        ),
        (
            "DELETE FROM messages WHERE app_id = ?1",
            "deleting the app's messages",
        ),
        (
            "DELETE FROM endpoints WHERE app_id = ?1",
            "deleting the app's endpoints",
        ),
        (
            "DELETE FROM flow_endpoints WHERE app_id = ?1",
            "unlisting the app's flow-controlled endpoints",
        ),
    ] {
        conn.prepare_cached(sql)
            .and_then(|mut s| s.execute([id]))
            .ctx(what)?;
    }
    Ok(())
}
