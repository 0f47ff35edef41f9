//! Event types: the `event_types` table, addressed and paged by name (bytewise order).

use super::codec::{col, json_col_opt, ms, to_json_opt, ts_col};
use super::query::{execute, fetch_one, ListQuery};
use crate::{Page, PageRequest, StoreError, StoreResult};
use deadpool_postgres::Client;
use hookd_core::model::EventType;
use tokio_postgres::Row;

const SELECT: &str = "SELECT name, description, archived, deprecated, schemas, feature_flag,
    created_at, updated_at FROM event_types";

fn from_row(row: &Row) -> StoreResult<EventType> {
    Ok(EventType {
        name: col(row, 0)?,
        description: col(row, 1)?,
        archived: col(row, 2)?,
        deprecated: col(row, 3)?,
        schemas: json_col_opt(row, 4)?,
        feature_flag: col(row, 5)?,
        created_at: ts_col(row, 6)?,
        updated_at: ts_col(row, 7)?,
    })
}

pub(super) async fn insert(client: &Client, et: &EventType) -> StoreResult<()> {
    let schemas = to_json_opt(et.schemas.as_ref())?;
    execute(
        client,
        "INSERT INTO event_types (name, description, archived, deprecated, schemas,
         feature_flag, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        &[
            &et.name,
            &et.description,
            &et.archived,
            &et.deprecated,
            &schemas,
            &et.feature_flag,
            &ms(et.created_at),
            &ms(et.updated_at),
        ],
        "inserting an event type",
    )
    .await?;
    Ok(())
}

pub(super) async fn get(client: &Client, name: &str) -> StoreResult<EventType> {
    let sql = format!("{SELECT} WHERE name = $1");
    fetch_one(client, &sql, &[&name], "reading an event type", from_row).await
}

pub(super) async fn list(
    client: &Client,
    page: &PageRequest,
    include_archived: bool,
) -> StoreResult<Page<EventType>> {
    let mut query = ListQuery::new(SELECT);
    if !include_archived {
        query.and_raw("NOT archived");
    }
    query.fetch_page(client, "name", page, from_row).await
}

pub(super) async fn update(client: &Client, et: &EventType) -> StoreResult<()> {
    let schemas = to_json_opt(et.schemas.as_ref())?;
    let changed = execute(
        client,
        "UPDATE event_types SET description = $2, archived = $3, deprecated = $4,
         schemas = $5, feature_flag = $6, updated_at = $7 WHERE name = $1",
        &[
            &et.name,
            &et.description,
            &et.archived,
            &et.deprecated,
            &schemas,
            &et.feature_flag,
            &ms(et.updated_at),
        ],
        "updating an event type",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

pub(super) async fn delete(client: &Client, name: &str) -> StoreResult<()> {
    let deleted = execute(
        client,
        "DELETE FROM event_types WHERE name = $1",
        &[&name],
        "deleting an event type",
    )
    .await?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
