//! Endpoints: the `endpoints` table, always scoped to their application. Deleting an
//! endpoint also deletes its delivery rows (pending deliveries stop) and its attempts.
//! Writes keep `flow_endpoints` listing exactly the flow-controlled endpoints, re-marking
//! an endpoint's pending destinations when it joins or leaves the list.

use super::codec::{json_col, json_col_opt, ms, to_json, to_json_opt, ts_col};
use super::codec::{unique_or_other, SqlContext};
use super::query::ListQuery;
use crate::secrets::credentials::HeaderCells;
use crate::secrets::SecretCodec;
use crate::{Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::{DisabledReason, Endpoint};
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "SELECT id, app_id, uid, url, description, version, rate_limit, disabled,
    event_types, channels, metadata, secret, headers, created_at, updated_at, previous_secrets,
    max_concurrency, fifo, sealed_headers, disabled_reason
    FROM endpoints";

/// Reads a row, opening its sealed secrets with `codec`.
fn from_row(codec: &SecretCodec) -> impl Fn(&Row<'_>) -> rusqlite::Result<Endpoint> + '_ {
    move |row| decode_row(codec, row)
}

fn decode_row(codec: &SecretCodec, row: &Row<'_>) -> rusqlite::Result<Endpoint> {
    let id: String = row.get(0)?;
    let secret: String = row.get(11)?;
    let secret = codec
        .open_secret(&id, &secret)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(11, Type::Text, e.into()))?;
    let previous: String = row.get(15)?;
    let previous_secrets = codec
        .open_previous(&id, &previous)
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(15, Type::Text, e.into()))?;
    let plain: String = row.get(12)?;
    let sealed: Option<String> = row.get(18)?;
    let headers = codec
        .open_headers(&id, &plain, sealed.as_deref())
        .map_err(|e| rusqlite::Error::FromSqlConversionFailure(18, Type::Text, e.into()))?;
    Ok(Endpoint {
        id: EndpointId::from_trusted(id),
        app_id: AppId::from_trusted(row.get(1)?),
        uid: row.get(2)?,
        url: row.get(3)?,
        description: row.get(4)?,
        version: row.get(5)?,
        rate_limit: row.get(6)?,
        max_concurrency: row.get(16)?,
        fifo: row.get(17)?,
        disabled: row.get(7)?,
        disabled_reason: crate::disabled_reason::read(row.get::<_, bool>(7)?, row.get(19)?),
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

/// Inserts `ep` with its encoded columns `json` (encoded by the caller, off the writer).
pub(super) fn insert(conn: &Connection, ep: &Endpoint, json: &JsonFields) -> StoreResult<()> {
    conn.prepare_cached(
        "INSERT INTO endpoints (id, app_id, uid, url, description, version, rate_limit,
         disabled, event_types, channels, metadata, secret, headers, created_at, updated_at,
         previous_secrets, max_concurrency, fifo, sealed_headers, disabled_reason)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15, ?16, ?17,
         ?18, ?19, ?20)",
    )
    .and_then(|mut s| {
        s.execute(params![
            ep.id.as_str(),
            ep.app_id.as_str(),
            ep.uid,
            ep.url,
            ep.description,
            ep.version,
            ep.rate_limit,
            ep.disabled,
            json.event_types,
            json.channels,
            json.metadata,
            json.secret,
            json.headers.plain,
            ms(ep.created_at),
            ms(ep.updated_at),
            json.previous_secrets,
            ep.max_concurrency,
            ep.fifo,
            json.headers.sealed,
            crate::disabled_reason::stored(ep)
        ])
    })
    .map_err(|e| unique_or_other(e, "endpoints.uid", "uid", "inserting an endpoint"))?;
    sync_flow(conn, ep)
}

/// Keeps `flow_endpoints` listing exactly the flow-controlled endpoints (an owner keeps its
/// lease while the endpoint stays listed) and, when the endpoint joins or leaves the list,
/// re-marks its pending destinations so the right claim (`claim_flow` or `claim_due`)
/// finds them.
fn sync_flow(conn: &Connection, ep: &Endpoint) -> StoreResult<()> {
    let flow = ep.is_flow_controlled();
    let changed = if flow {
        conn.prepare_cached(
            "INSERT INTO flow_endpoints (endpoint_id, app_id) VALUES (?1, ?2)
             ON CONFLICT (endpoint_id) DO NOTHING",
        )
        .and_then(|mut s| s.execute([ep.id.as_str(), ep.app_id.as_str()]))
        .ctx("listing a flow-controlled endpoint")?
    } else {
        conn.prepare_cached("DELETE FROM flow_endpoints WHERE endpoint_id = ?1")
            .and_then(|mut s| s.execute([ep.id.as_str()]))
            .ctx("unlisting a flow-controlled endpoint")?
    };
    if changed > 0 {
        conn.prepare_cached(
            "UPDATE message_destinations SET flow = ?2
             WHERE endpoint_id = ?1 AND status = 1 AND flow <> ?2",
        )
        .and_then(|mut s| s.execute(params![ep.id.as_str(), flow]))
        .ctx("re-marking an endpoint's pending deliveries")?;
    }
    Ok(())
}

/// The encoded columns of an endpoint: JSON, and the sealed secrets and credential headers.
pub(super) struct JsonFields {
    event_types: Option<String>,
    channels: Option<String>,
    metadata: String,
    headers: HeaderCells,
    secret: String,
    previous_secrets: String,
}

impl JsonFields {
    pub(super) fn of(ep: &Endpoint, codec: &SecretCodec) -> StoreResult<Self> {
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

/// An endpoint of `app`, by id first, else by uid.
pub(super) fn get(
    conn: &Connection,
    codec: &SecretCodec,
    app: &AppId,
    id_or_uid: &str,
) -> StoreResult<Endpoint> {
    for key in ["id", "uid"] {
        let found = conn
            .prepare_cached(&format!("{SELECT} WHERE app_id = ?1 AND {key} = ?2"))
            .and_then(|mut s| {
                s.query_row([app.as_str(), id_or_uid], from_row(codec))
                    .optional()
            })
            .ctx("reading an endpoint")?;
        if let Some(ep) = found {
            return Ok(ep);
        }
    }
    Err(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    codec: &SecretCodec,
    app: &AppId,
    page: &PageRequest,
) -> StoreResult<Page<Endpoint>> {
    let mut query = ListQuery::new(SELECT);
    query.and("app_id = ?", app.as_str().to_owned());
    query.fetch_page(conn, "id", page, from_row(codec))
}

pub(super) fn all(
    conn: &Connection,
    codec: &SecretCodec,
    app: &AppId,
) -> StoreResult<Vec<Endpoint>> {
    let mut query = ListQuery::new(SELECT);
    query.and("app_id = ?", app.as_str().to_owned());
    query.order_by("id");
    query.fetch_all(conn, from_row(codec))
}

/// Updates `ep` with its encoded columns `json` (encoded by the caller, off the writer).
pub(super) fn update(conn: &Connection, ep: &Endpoint, json: &JsonFields) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE endpoints SET uid = ?3, url = ?4, description = ?5, version = ?6,
             rate_limit = ?7, disabled = ?8, event_types = ?9, channels = ?10, metadata = ?11,
             secret = ?12, headers = ?13, updated_at = ?14, previous_secrets = ?15,
             max_concurrency = ?16, fifo = ?17, sealed_headers = ?18, disabled_reason = ?19
             WHERE app_id = ?1 AND id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                ep.app_id.as_str(),
                ep.id.as_str(),
                ep.uid,
                ep.url,
                ep.description,
                ep.version,
                ep.rate_limit,
                ep.disabled,
                json.event_types,
                json.channels,
                json.metadata,
                json.secret,
                json.headers.plain,
                ms(ep.updated_at),
                json.previous_secrets,
                ep.max_concurrency,
                ep.fifo,
                json.headers.sealed,
                crate::disabled_reason::stored(ep)
            ])
        })
        .map_err(|e| unique_or_other(e, "endpoints.uid", "uid", "updating an endpoint"))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    sync_flow(conn, ep)
}

pub(super) fn set_disabled(
    conn: &Connection,
    app: &AppId,
    id: &EndpointId,
    disabled: Option<DisabledReason>,
) -> StoreResult<()> {
    let changed = conn
        .prepare_cached(
            "UPDATE endpoints SET disabled = ?3, disabled_reason = ?4 WHERE app_id = ?1 AND id = ?2",
        )
        .and_then(|mut s| {
            s.execute(params![
                app.as_str(),
                id.as_str(),
                disabled.is_some(),
                disabled.map(DisabledReason::as_str)
            ])
        })
        .ctx("setting an endpoint's disabled flag")?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// Deletes the endpoint with its delivery rows and attempts (the endpoint's logs go with
/// it: nothing could address them any more).
pub(super) fn delete(conn: &Connection, app: &AppId, id: &EndpointId) -> StoreResult<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM endpoints WHERE app_id = ?1 AND id = ?2")
        .and_then(|mut s| s.execute([app.as_str(), id.as_str()]))
        .ctx("deleting an endpoint")?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    conn.prepare_cached("DELETE FROM message_destinations WHERE endpoint_id = ?1")
        .and_then(|mut s| s.execute([id.as_str()]))
        .ctx("deleting an endpoint's deliveries")?;
    conn.prepare_cached("DELETE FROM attempts WHERE app_id = ?1 AND endpoint_id = ?2")
        .and_then(|mut s| s.execute([app.as_str(), id.as_str()]))
        .ctx("deleting an endpoint's attempts")?;
    conn.prepare_cached("DELETE FROM flow_endpoints WHERE endpoint_id = ?1")
        .and_then(|mut s| s.execute([id.as_str()]))
        .ctx("unlisting a deleted endpoint")?;
    Ok(())
}
