//! Applications: the `applications` table, and the cascade that deletes an app with
//! everything under it (one statement, so it is atomic).

use super::codec::{col, int_col_opt, json_col, ms, to_json, ts_col};
use super::query::{execute, fetch_one, query_opt, ListQuery};
use crate::{Page, PageRequest, StoreError, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::AppId;
use hookd_core::model::Application;
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, uid, name, rate_limit, metadata, created_at, updated_at
    FROM applications";

fn from_row(row: &Row) -> StoreResult<Application> {
    Ok(Application {
        id: AppId::from_trusted(col(row, 0)?),
        uid: col(row, 1)?,
        name: col(row, 2)?,
        rate_limit: int_col_opt(row, 3)?,
        metadata: json_col(row, 4)?,
        created_at: ts_col(row, 5)?,
        updated_at: ts_col(row, 6)?,
    })
}

pub(super) async fn insert(client: &Client, app: &Application) -> StoreResult<()> {
    let metadata = to_json(&app.metadata)?;
    execute(
        client,
        "INSERT INTO applications (id, uid, name, rate_limit, metadata, created_at, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            &app.id.as_str(),
            &app.uid,
            &app.name,
            &app.rate_limit.map(i64::from),
            &metadata,
            &ms(app.created_at),
            &ms(app.updated_at),
        ],
        "inserting an application",
    )
    .await?;
    Ok(())
}

/// By id first, else by uid (one lookup: an id match sorts first).
pub(super) async fn get(client: &Client, id_or_uid: &str) -> StoreResult<Application> {
    fetch_one(
        client,
        &format!("{SELECT} WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1"),
        &[&id_or_uid],
        "reading an application",
        from_row,
    )
    .await
}

pub(super) async fn list(client: &Client, page: &PageRequest) -> StoreResult<Page<Application>> {
    ListQuery::new(SELECT)
        .fetch_page(client, "id", page, from_row)
        .await
}

pub(super) async fn update(client: &Client, app: &Application) -> StoreResult<()> {
    let metadata = to_json(&app.metadata)?;
    let changed = execute(
        client,
        "UPDATE applications SET uid = $2, name = $3, rate_limit = $4, metadata = $5,
         updated_at = $6 WHERE id = $1",
        &[
            &app.id.as_str(),
            &app.uid,
            &app.name,
            &app.rate_limit.map(i64::from),
            &metadata,
            &ms(app.updated_at),
        ],
        "updating an application",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the app, its endpoints, messages, destinations and attempts. Every part keys
/// off the deleted app row, so nothing is touched when the app does not exist.
const DELETE_SQL: &str = "WITH app AS (
        DELETE FROM applications WHERE id = $1 RETURNING id
    ), eps AS (
        DELETE FROM endpoints WHERE app_id IN (SELECT id FROM app) RETURNING id
    ), msgs AS (
        DELETE FROM messages WHERE app_id IN (SELECT id FROM app) RETURNING id
    ), dests_by_endpoint AS (
        DELETE FROM message_destinations WHERE endpoint_id IN (SELECT id FROM eps)
    ), dests_by_message AS (
        DELETE FROM message_destinations WHERE msg_id IN (SELECT id FROM msgs)
    ), attempts AS (
        DELETE FROM attempts WHERE app_id IN (SELECT id FROM app)
    ), flows AS (
        DELETE FROM flow_endpoints WHERE app_id IN (SELECT id FROM app)
    )
    SELECT count(*) FROM app";

pub(super) async fn delete(client: &Client, id: &AppId) -> StoreResult<()> {
    let what = "deleting an application";
    let row = query_opt(client, DELETE_SQL, &[&id.as_str()], what).await?;
    let deleted: i64 = match &row {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
