//! Ingest sources: the `ingest_sources` table. The `config` column (the provider's
//! secrets) and the receive tokens are sealed under the main key, and a token is found by
//! its lookup hash (see `crate::secrets::credentials`).

use super::codec::{col, json_col, ms, ms_opt, to_json, ts_col, ts_col_opt};
use super::query::{execute, fetch_one, query, ListQuery};
use crate::secrets::credentials::{CONFIG_COLUMN, PREVIOUS_TOKEN_COLUMN, TOKEN_COLUMN};
use crate::secrets::SecretCodec;
use crate::{Page, PageRequest, StoreError, StoreResult};
use deadpool_postgres::Client;
use hookd_core::ids::SourceId;
use hookd_core::model::{IngestSource, PreviousToken};
use hookd_core::Timestamp;
use tokio_postgres::Row;

const SELECT: &str = "SELECT id, uid, name, source_type, config, metadata, token,
    previous_token, previous_token_expires_at, created_at, updated_at FROM ingest_sources";

fn from_row(codec: &SecretCodec) -> impl Fn(&Row) -> StoreResult<IngestSource> + '_ {
    move |row| {
        let id: String = col(row, 0)?;
        let sealed: String = col(row, 4)?;
        let corrupt = |why: String| StoreError::Other(anyhow::anyhow!("ingest source {id}: {why}"));
        let config = codec
            .open_text(CONFIG_COLUMN, &id, &sealed)
            .map_err(corrupt)?;
        let config =
            serde_json::from_str(&config).map_err(|_| corrupt("the config is not JSON".into()))?;
        let token = codec
            .open_text(TOKEN_COLUMN, &id, col(row, 6)?)
            .map_err(corrupt)?;
        let previous: Option<&str> = col(row, 7)?;
        let previous = previous
            .map(|p| codec.open_text(PREVIOUS_TOKEN_COLUMN, &id, p))
            .transpose()
            .map_err(corrupt)?;
        let expires = ts_col_opt(row, 8)?;
        Ok(IngestSource {
            id: SourceId::from_trusted(id),
            uid: col(row, 1)?,
            name: col(row, 2)?,
            source_type: col(row, 3)?,
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

pub(super) async fn insert(
    client: &Client,
    codec: &SecretCodec,
    s: &IngestSource,
) -> StoreResult<()> {
    let (cells, metadata) = (codec.seal_source(s)?, to_json(&s.metadata)?);
    let previous = s.previous_token.as_ref();
    execute(
        client,
        "INSERT INTO ingest_sources (id, uid, name, source_type, config, metadata, token,
         previous_token, previous_token_expires_at, created_at, updated_at, token_hash,
         previous_token_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            &s.id.as_str(),
            &s.uid,
            &s.name,
            &s.source_type,
            &cells.config,
            &metadata,
            &cells.token,
            &cells.previous_token,
            &ms_opt(previous.map(|p| p.expires_at)),
            &ms(s.created_at),
            &ms(s.updated_at),
            &cells.token_hash,
            &cells.previous_token_hash,
        ],
        "inserting an ingest source",
    )
    .await?;
    Ok(())
}

/// By id first, else by uid (one lookup: an id match sorts first).
pub(super) async fn get(
    client: &Client,
    codec: &SecretCodec,
    key: &str,
) -> StoreResult<IngestSource> {
    fetch_one(
        client,
        &format!("{SELECT} WHERE id = $1 OR uid = $1 ORDER BY id = $1 DESC LIMIT 1"),
        &[&key],
        "reading an ingest source",
        from_row(codec),
    )
    .await
}

pub(super) async fn list(
    client: &Client,
    codec: &SecretCodec,
    page: &PageRequest,
) -> StoreResult<Page<IngestSource>> {
    ListQuery::new(SELECT)
        .fetch_page(client, "id", page, from_row(codec))
        .await
}

pub(super) async fn update(
    client: &Client,
    codec: &SecretCodec,
    s: &IngestSource,
) -> StoreResult<()> {
    let (cells, metadata) = (codec.seal_source(s)?, to_json(&s.metadata)?);
    let previous = s.previous_token.as_ref();
    let changed = execute(
        client,
        "UPDATE ingest_sources SET uid = $2, name = $3, source_type = $4, config = $5,
         metadata = $6, token = $7, previous_token = $8, previous_token_expires_at = $9,
         updated_at = $10, token_hash = $11, previous_token_hash = $12 WHERE id = $1",
        &[
            &s.id.as_str(),
            &s.uid,
            &s.name,
            &s.source_type,
            &cells.config,
            &metadata,
            &cells.token,
            &cells.previous_token,
            &ms_opt(previous.map(|p| p.expires_at)),
            &ms(s.updated_at),
            &cells.token_hash,
            &cells.previous_token_hash,
        ],
        "updating an ingest source",
    )
    .await?;
    if changed == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}

/// The source receiving on `token`: its current token, or its previous one while that
/// has not expired at `now`, found by lookup hash (one per key of the keyring; both hash
/// columns are unique, so at most one row matches each).
pub(super) async fn get_by_token(
    client: &Client,
    codec: &SecretCodec,
    token: &str,
    now: Timestamp,
) -> StoreResult<IngestSource> {
    fetch_one(
        client,
        &format!(
            "{SELECT} WHERE token_hash = ANY($1)
             OR (previous_token_hash = ANY($1) AND previous_token_expires_at > $2)
             ORDER BY token_hash = ANY($1) DESC LIMIT 1"
        ),
        &[&codec.token_lookups(token), &ms(now)],
        "reading an ingest source by token",
        from_row(codec),
    )
    .await
}

/// Deletes the source with its rejections and de-duplication entries, in one statement.
pub(super) async fn delete(client: &Client, id: &SourceId) -> StoreResult<()> {
    let rows = query(
        client,
        "WITH source AS (
            DELETE FROM ingest_sources WHERE id = $1 RETURNING id
        ), rejections AS (
            DELETE FROM ingest_rejections WHERE source_id = $1
        ), entries AS (
            DELETE FROM ingest_dedup WHERE source_id = $1
        )
        SELECT count(*) FROM source",
        &[&id.as_str()],
        "deleting an ingest source",
    )
    .await?;
    let deleted: i64 = match rows.first() {
        Some(row) => col(row, 0)?,
        None => 0,
    };
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
