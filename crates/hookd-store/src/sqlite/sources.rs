//! Ingest sources: the `ingest_sources` table. The `config` column (the provider's
//! secrets) and the receive tokens are sealed under the main key, and a token is found by
//! its lookup hash (see `crate::secrets::credentials`); the caller seals before the write
//! job.

use super::codec::{
    json_col, ms, ms_opt, to_json, ts_col, ts_col_opt, unique_or_other, SqlContext,
};
use super::query::ListQuery;
use crate::secrets::credentials::{
    SourceCells, CONFIG_COLUMN, PREVIOUS_TOKEN_COLUMN, TOKEN_COLUMN,
};
use crate::secrets::SecretCodec;
use crate::{Page, PageRequest, StoreError, StoreResult};
use hookd_core::ids::SourceId;
use hookd_core::model::{IngestSource, PreviousToken};
use hookd_core::Timestamp;
use rusqlite::types::Type;
use rusqlite::{params, Connection, OptionalExtension, Row};

const SELECT: &str = "SELECT id, uid, name, source_type, config, metadata, token,
    previous_token, previous_token_expires_at, created_at, updated_at FROM ingest_sources";

fn from_row(codec: &SecretCodec) -> impl Fn(&Row<'_>) -> rusqlite::Result<IngestSource> + '_ {
    move |row| {
        let id: String = row.get(0)?;
        let sealed: String = row.get(4)?;
        let conversion =
            |e: String| rusqlite::Error::FromSqlConversionFailure(4, Type::Text, e.into());
        let config = codec
            .open_text(CONFIG_COLUMN, &id, &sealed)
            .map_err(conversion)?;
        let config = serde_json::from_str(&config)
            .map_err(|_| conversion("the source config is not JSON".into()))?;
        let token: String = row.get(6)?;
        let token = codec
            .open_text(TOKEN_COLUMN, &id, &token)
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(6, Type::Text, e.into()))?;
        let previous: Option<String> = row.get(7)?;
        let previous = previous
            .map(|p| codec.open_text(PREVIOUS_TOKEN_COLUMN, &id, &p))
            .transpose()
            .map_err(|e| rusqlite::Error::FromSqlConversionFailure(7, Type::Text, e.into()))?;
        let expires = ts_col_opt(row, 8)?;
        Ok(IngestSource {
            id: SourceId::from_trusted(id),
            uid: row.get(1)?,
            name: row.get(2)?,
            source_type: row.get(3)?,
            config,
            metadata: json_col(row, 5)?,
            token,
            previous_token: previous
                .zip(expires)
                .map(|(token, expires_at)| PreviousToken { token, expires_at }),
            created_at: ts_col(row, 9)?,
            updated_at: ts_col(row, 10)?,
        })
    }
}

// Tokens are random (collisions are not a user error), so only the uid maps to Conflict.
fn conflict(e: rusqlite::Error, what: &'static str) -> StoreError {
    unique_or_other(e, "ingest_sources.uid", "uid", what)
}

/// Inserts `s` with its secret cells `cells` (sealed by the caller, off the writer).
pub(super) fn insert(conn: &Connection, s: &IngestSource, cells: &SourceCells) -> StoreResult<()> {
    let metadata = to_json(&s.metadata)?;
    let previous = s.previous_token.as_ref();
    conn.prepare_cached(
        "INSERT INTO ingest_sources (id, uid, name, source_type, config, metadata, token,
         previous_token, previous_token_expires_at, created_at, updated_at, token_hash,
         previous_token_hash)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
    )
    .and_then(|mut st| {
        st.execute(params![
            s.id.as_str(),
            s.uid,
            s.name,
            s.source_type,
            cells.config,
            metadata,
            cells.token,
            cells.previous_token,
            ms_opt(previous.map(|p| p.expires_at)),
            ms(s.created_at),
            ms(s.updated_at),
            cells.token_hash,
            cells.previous_token_hash
        ])
    })
    .map_err(|e| conflict(e, "inserting an ingest source"))?;
    Ok(())
}

/// By id first, else by uid.
pub(super) fn get(conn: &Connection, codec: &SecretCodec, key: &str) -> StoreResult<IngestSource> {
    for sql in [
        format!("{SELECT} WHERE id = ?1"),
        format!("{SELECT} WHERE uid = ?1"),
    ] {
        let found = conn
            .prepare_cached(&sql)
            .and_then(|mut st| st.query_row([key], from_row(codec)).optional())
            .ctx("reading an ingest source")?;
        if let Some(source) = found {
            return Ok(source);
        }
    }
    Err(StoreError::NotFound)
}

pub(super) fn list(
    conn: &Connection,
    codec: &SecretCodec,
    page: &PageRequest,
) -> StoreResult<Page<IngestSource>> {
    ListQuery::new(SELECT).fetch_page(conn, "id", page, from_row(codec))
}

/// Updates `s` with its secret cells `cells` (sealed by the caller, off the writer).
pub(super) fn update(conn: &Connection, s: &IngestSource, cells: &SourceCells) -> StoreResult<()> {
    let metadata = to_json(&s.metadata)?;
    let previous = s.previous_token.as_ref();
    let changed = conn
        .prepare_cached(
            "UPDATE ingest_sources SET uid = ?2, name = ?3, source_type = ?4, config = ?5,
             metadata = ?6, token = ?7, previous_token = ?8, previous_token_expires_at = ?9,
             updated_at = ?10, token_hash = ?11, previous_token_hash = ?12 WHERE id = ?1",
        )
        .and_then(|mut st| {
            st.execute(params![
                s.id.as_str(),
                s.uid,
                s.name,
                s.source_type,
                cells.config,
                metadata,
                cells.token,
                cells.previous_token,
                ms_opt(previous.map(|p| p.expires_at)),
                ms(s.updated_at),
                cells.token_hash,
                cells.previous_token_hash
            ])
        })
        .map_err(|e| conflict(e, "updating an ingest source"))?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The source receiving on `token`: its current token, or its previous one while that
/// has not expired at `now`, found by lookup hash (one per key of the keyring; both hash
/// columns are unique).
pub(super) fn get_by_token(
    conn: &Connection,
    codec: &SecretCodec,
    token: &str,
    now: Timestamp,
) -> StoreResult<IngestSource> {
    let lookups = codec.token_lookups(token);
    for hash in &lookups {
        let current = conn
            .prepare_cached(&format!("{SELECT} WHERE token_hash = ?1"))
            .and_then(|mut st| st.query_row([hash], from_row(codec)).optional())
            .ctx("reading an ingest source by token")?;
        if let Some(source) = current {
            return Ok(source);
        }
    }
    for hash in &lookups {
        let previous = conn
            .prepare_cached(&format!(
                "{SELECT} WHERE previous_token_hash = ?1 AND previous_token_expires_at > ?2"
            ))
            .and_then(|mut st| {
                st.query_row(params![hash, ms(now)], from_row(codec))
                    .optional()
            })
            .ctx("reading an ingest source by its previous token")?;
        if let Some(source) = previous {
            return Ok(source);
        }
    }
    Err(StoreError::NotFound)
}

/// Deletes the source with its rejections and de-duplication entries.
pub(super) fn delete(conn: &Connection, id: &SourceId) -> StoreResult<()> {
    let deleted = conn
        .prepare_cached("DELETE FROM ingest_sources WHERE id = ?1")
        .and_then(|mut st| st.execute([id.as_str()]))
        .ctx("deleting an ingest source")?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    super::ingest::forget_source(conn, id)
}
