//! Endpoints: the `endpoints` table, always scoped to their application. Deleting an
//! endpoint also deletes its delivery rows (pending deliveries stop) and its attempts, in
//! the same statement.
//!
//! Writes keep `flow_endpoints` listing exactly the flow-controlled endpoints; an update
//! that adds or removes the endpoint there re-marks its pending destinations (`flow`) in
//! the same transaction. Destination writes probe the list with `FOR KEY SHARE` (see
//! `batch_insert.rs`), so the removal waits for writes that saw the endpoint listed, and the
//! re-marking, a later statement, sees their rows: none is left marked for an endpoint
//! nobody claims.

use super::codec::{col, corrupt, int_col_opt, json_col, json_col_opt, ms, to_json, to_json_opt};
use super::codec::{pg_error, ts_col};
use super::query::{execute, fetch_one, query_opt, ListQuery};
use crate::secrets::credentials::HeaderCells;
use crate::secrets::SecretCodec;
use crate::{Page, PageRequest, StoreError, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::{DisabledReason, Endpoint};
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, app_id, uid, url, description, version, rate_limit, disabled,
    event_types, channels, metadata, secret, headers, created_at, updated_at, previous_secrets,
    max_concurrency, fifo, sealed_headers, disabled_reason
    FROM endpoints";

/// Reads a row, opening its sealed secrets with `codec`.
fn from_row(codec: &SecretCodec) -> impl Fn(&Row) -> StoreResult<Endpoint> + '_ {
    move |row| decode_row(codec, row)
}

fn decode_row(codec: &SecretCodec, row: &Row) -> StoreResult<Endpoint> {
    let id: &str = col(row, 0)?;
    let secret = codec
        .open_secret(id, col(row, 11)?)
        .map_err(|e| corrupt(11, e))?;
    let previous_secrets = codec
        .open_previous(id, col(row, 15)?)
        .map_err(|e| corrupt(15, e))?;
    let headers = codec
        .open_headers(id, col(row, 12)?, col(row, 18)?)
        .map_err(|e| corrupt(18, e))?;
    Ok(Endpoint {
        id: EndpointId::from_trusted(id.to_owned()),
        app_id: AppId::from_trusted(col(row, 1)?),
        uid: col(row, 2)?,
        url: col(row, 3)?,
        description: col(row, 4)?,
        version: col(row, 5)?,
        rate_limit: int_col_opt(row, 6)?,
        max_concurrency: int_col_opt(row, 16)?,
        fifo: col(row, 17)?,
        disabled: col(row, 7)?,
        disabled_reason: crate::disabled_reason::read(col(row, 7)?, col(row, 19)?),
        event_types: json_col_opt(row, 8)?,
        channels: json_col_opt(row, 9)?,
        metadata: json_col(row, 10)?,
        secret,
        headers,
        created_at: ts_col(row, 13)?,
        updated_at: ts_col(row, 14)?,
        previous_secrets,
    })
}

/// The encoded columns of an endpoint: JSON, and the sealed secrets and credential headers.
struct JsonFields {
    event_types: Option<String>,
    channels: Option<String>,
    metadata: String,
    headers: HeaderCells,
    secret: String,
    previous_secrets: String,
}

impl JsonFields {
    fn of(ep: &Endpoint, codec: &SecretCodec) -> StoreResult<Self> {
        Ok(Self {
            event_types: to_json_opt(ep.event_types.as_ref())?,
            channels: to_json_opt(ep.channels.as_ref())?,
            metadata: to_json(&ep.metadata)?,
            headers: codec.seal_headers(ep.id.as_str(), &ep.headers)?,
            secret: codec.seal_secret(&ep.id, &ep.secret),
            previous_secrets: codec.seal_previous(&ep.id, &ep.previous_secrets)?,
        })
    }
}

/// The endpoint and, if it is flow-controlled (`$19`), its `flow_endpoints` row.
const INSERT_SQL: &str = "WITH ep AS (
        INSERT INTO endpoints (id, app_id, uid, url, description, version, rate_limit,
            disabled, event_types, channels, metadata, secret, headers, created_at,
            updated_at, previous_secrets, max_concurrency, fifo, sealed_headers, disabled_reason)
        VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,
            $18, $20, $21)
        RETURNING id, app_id
    ), flow AS (
        INSERT INTO flow_endpoints (endpoint_id, app_id)
        SELECT id, app_id FROM ep WHERE $19::boolean
    )
    SELECT count(*) FROM ep";

pub(super) async fn insert(client: &Client, codec: &SecretCodec, ep: &Endpoint) -> StoreResult<()> {
    let json = JsonFields::of(ep, codec)?;
    execute(
        client,
        INSERT_SQL,
        &[
            &ep.id.as_str(),
            &ep.app_id.as_str(),
            &ep.uid,
            &ep.url,
            &ep.description,
            &ep.version,
            &ep.rate_limit.map(i64::from),
            &ep.disabled,
            &json.event_types,
            &json.channels,
            &json.metadata,
            &json.secret,
            &json.headers.plain,
            &ms(ep.created_at),
            &ms(ep.updated_at),
            &json.previous_secrets,
            &ep.max_concurrency.map(i64::from),
            &ep.fifo,
            &ep.is_flow_controlled(),
            &json.headers.sealed,
            &crate::disabled_reason::stored(ep),
        ],
        "inserting an endpoint",
    )
    .await?;
    Ok(())
}

/// An endpoint of `app`, by id first, else by uid (one lookup: an id match sorts first).
pub(super) async fn get(
    client: &Client,
    codec: &SecretCodec,
    app: &AppId,
    id_or_uid: &str,
) -> StoreResult<Endpoint> {
    let sql = format!(
        "{SELECT} WHERE app_id = $1 AND (id = $2 OR uid = $2) ORDER BY id = $2 DESC LIMIT 1"
    );
    fetch_one(
        client,
        &sql,
        &[&app.as_str(), &id_or_uid],
        "reading an endpoint",
        from_row(codec),
    )
    .await
}

pub(super) async fn list(
    client: &Client,
    codec: &SecretCodec,
    app: &AppId,
    page: &PageRequest,
) -> StoreResult<Page<Endpoint>> {
    let mut query = ListQuery::new(SELECT);
    query.and("app_id = $", app.as_str().to_owned());
    query.fetch_page(client, "id", page, from_row(codec)).await
}

pub(super) async fn all(
    client: &Client,
    codec: &SecretCodec,
    app: &AppId,
) -> StoreResult<Vec<Endpoint>> {
    let mut query = ListQuery::new(SELECT);
    query.and("app_id = $", app.as_str().to_owned());
    query.order_by("id");
    query.fetch_all(client, from_row(codec)).await
}

/// The endpoint, and its `flow_endpoints` row added or removed per `$18` (whether it is
/// flow-controlled; a row that stays keeps its owner). Returns whether the endpoint was
/// found and whether its row was added or removed.
const UPDATE_SQL: &str = "WITH ep AS (
        UPDATE endpoints SET uid = $3, url = $4, description = $5, version = $6,
            rate_limit = $7, disabled = $8, event_types = $9, channels = $10, metadata = $11,
            secret = $12, headers = $13, updated_at = $14, previous_secrets = $15,
            max_concurrency = $16, fifo = $17, sealed_headers = $19, disabled_reason = $20
        WHERE app_id = $1 AND id = $2
        RETURNING id, app_id
    ), added AS (
        INSERT INTO flow_endpoints (endpoint_id, app_id)
        SELECT id, app_id FROM ep WHERE $18::boolean
        ON CONFLICT (endpoint_id) DO NOTHING
        RETURNING endpoint_id
    ), removed AS (
        DELETE FROM flow_endpoints
        WHERE endpoint_id IN (SELECT id FROM ep) AND NOT $18::boolean
        RETURNING endpoint_id
    )
    SELECT (SELECT count(*) FROM ep),
        (SELECT count(*) FROM added) + (SELECT count(*) FROM removed)";

/// Moves the endpoint's pending destinations to the claim that now serves them. Runs as
/// its own statement, after [`UPDATE_SQL`]'s, so it sees destinations committed while the
/// removal waited for them.
const REMARK_SQL: &str = "UPDATE message_destinations SET flow = $2
    WHERE endpoint_id = $1 AND status = 1 AND flow <> $2";

pub(super) async fn update(
    client: &mut Client,
    codec: &SecretCodec,
    ep: &Endpoint,
) -> StoreResult<()> {
    let what = "updating an endpoint";
    let json = JsonFields::of(ep, codec)?;
    let flow = ep.is_flow_controlled();
    let tx = client.transaction().await.map_err(|e| pg_error(e, what))?;
    let stmt = tx
        .prepare_cached(UPDATE_SQL)
        .await
        .map_err(|e| pg_error(e, what))?;
    let row = tx
        .query_one(
            &stmt,
            &[
                &ep.app_id.as_str(),
                &ep.id.as_str(),
                &ep.uid,
                &ep.url,
                &ep.description,
                &ep.version,
                &ep.rate_limit.map(i64::from),
                &ep.disabled,
                &json.event_types,
                &json.channels,
                &json.metadata,
                &json.secret,
                &json.headers.plain,
                &ms(ep.updated_at),
                &json.previous_secrets,
                &ep.max_concurrency.map(i64::from),
                &ep.fifo,
                &flow,
                &json.headers.sealed,
                &crate::disabled_reason::stored(ep),
            ],
        )
        .await
        .map_err(|e| pg_error(e, what))?;
    let (found, relisted): (i64, i64) = (col(&row, 0)?, col(&row, 1)?);
    if found == 0 {
        return Err(StoreError::NotFound);
    }
    if relisted > 0 {
        let what = "re-marking an endpoint's pending deliveries";
        let stmt = tx
            .prepare_cached(REMARK_SQL)
            .await
            .map_err(|e| pg_error(e, what))?;
        tx.execute(&stmt, &[&ep.id.as_str(), &i16::from(flow)])
            .await
            .map_err(|e| pg_error(e, what))?;
    }
    tx.commit().await.map_err(|e| pg_error(e, what))
}

pub(super) async fn set_disabled(
    client: &Client,
    app: &AppId,
    id: &EndpointId,
    disabled: Option<DisabledReason>,
) -> StoreResult<()> {
    let changed = execute(
        client,
        "UPDATE endpoints SET disabled = $3, disabled_reason = $4 WHERE app_id = $1 AND id = $2",
        &[
            &app.as_str(),
            &id.as_str(),
            &disabled.is_some(),
            &disabled.map(DisabledReason::as_str),
        ],
        "setting an endpoint's disabled flag",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the endpoint with its delivery rows and attempts (the endpoint's logs go with
/// it: nothing could address them any more). The cascades key off the deleted row, so
/// nothing else is touched when the endpoint is not the app's.
const DELETE_SQL: &str = "WITH ep AS (
        DELETE FROM endpoints WHERE app_id = $1 AND id = $2 RETURNING id
    ), dests AS (
        DELETE FROM message_destinations WHERE endpoint_id IN (SELECT id FROM ep)
    ), attempts AS (
        DELETE FROM attempts WHERE app_id = $1 AND endpoint_id IN (SELECT id FROM ep)
    ), flow AS (
        DELETE FROM flow_endpoints WHERE endpoint_id IN (SELECT id FROM ep)
    )
    SELECT count(*) FROM ep";

pub(super) async fn delete(client: &Client, app: &AppId, id: &EndpointId) -> StoreResult<()> {
    let row = query_opt(
        client,
        DELETE_SQL,
        &[&app.as_str(), &id.as_str()],
        "deleting an endpoint",
    )
    .await?;
    let deleted: i64 = match &row {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
