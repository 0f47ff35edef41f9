//! At open: checks that the configured main key is the one the database's secrets are
//! encrypted with, and re-encrypts every secret not yet under it (see `crate::secrets`):
//! endpoint secrets and credential headers (splitting rows written before headers were
//! sealed), stored idempotent responses, ingest source configs and receive tokens with
//! their lookup hashes (hashing rows written before tokens were). Runs on the writer
//! connection before the writer thread starts, so nothing else writes meanwhile. SQLite's
//! `secure_delete` is on meanwhile, so the plaintext a pass replaces does not stay behind
//! in freed pages.

use crate::secrets::credentials::SourceCells;
use crate::secrets::{
    sealed_key_id, sealed_prefix, wrong_key, SecretCodec, REENCRYPT_BATCH, SEALED_PREFIX_LEN,
};
use anyhow::Context;
use rusqlite::{params, Connection, OptionalExtension};

/// Refuses a keyring (or its absence) that does not fit the database, then brings every
/// secret under the main key and records that key as the database's.
pub(super) fn prepare(conn: &mut Connection, codec: &SecretCodec) -> anyhow::Result<()> {
    let check: Option<String> = conn
        .query_row("SELECT key_id FROM main_key_check WHERE id = 1", [], |r| {
            r.get(0)
        })
        .optional()
        .context("reading the main key check")?;
    let Some(keys) = codec.keyring() else {
        return match check {
            Some(found) => Err(wrong_key(&found, None)),
            // Without a keyring only receive tokens need a pass: their lookup hashes.
            None => reencrypt_sources(conn, codec).map(drop),
        };
    };
    match &check {
        Some(found) if !keys.knows(found) => return Err(wrong_key(found, Some(keys))),
        Some(_) => {}
        None => {
            conn.execute(
                "INSERT INTO main_key_check (id, key_id) VALUES (1, ?1)",
                [keys.main_id()],
            )
            .context("recording the main key check")?;
        }
    }
    for id in sealed_key_ids(conn)? {
        if !keys.knows(&id) {
            return Err(wrong_key(&id, Some(keys)));
        }
    }
    conn.pragma_update(None, "secure_delete", true)
        .context("turning secure_delete on")?;
    let done = reencrypt(conn, codec, &sealed_prefix(keys.main_id()))?;
    if done > 0 {
        tracing::info!(
            endpoints = done,
            main_key.id = keys.main_id(),
            "re-encrypted endpoint secrets and credential headers under the main key"
        );
    }
    let responses = reencrypt_responses(conn, codec, &sealed_prefix(keys.main_id()))?;
    if responses > 0 {
        tracing::info!(
            responses,
            main_key.id = keys.main_id(),
            "re-encrypted stored idempotent responses under the main key"
        );
    }
    let sources = reencrypt_sources(conn, codec)?;
    if sources > 0 {
        tracing::info!(
            sources,
            main_key.id = keys.main_id(),
            "re-encrypted ingest source configs and receive tokens under the main key"
        );
    }
    conn.pragma_update(None, "secure_delete", false)
        .context("turning secure_delete off")?;
    // Nothing else writes meanwhile, so no row is left under another key.
    conn.execute(
        "UPDATE main_key_check SET key_id = ?1 WHERE id = 1",
        [keys.main_id()],
    )
    .context("recording the main key check")?;
    Ok(())
}

/// The ids of every main key some stored secret is sealed with.
fn sealed_key_ids(conn: &Connection) -> anyhow::Result<Vec<String>> {
    let sql = format!(
        "SELECT substr(secret, 1, {n}) FROM endpoints WHERE secret LIKE 'enc1:%'
         UNION SELECT substr(previous_secrets, 1, {n}) FROM endpoints
         WHERE previous_secrets LIKE 'enc1:%'
         UNION SELECT substr(sealed_headers, 1, {n}) FROM endpoints
         WHERE sealed_headers LIKE 'enc1:%'
         UNION SELECT substr(config, 1, {n}) FROM ingest_sources WHERE config LIKE 'enc1:%'
         UNION SELECT substr(token, 1, {n}) FROM ingest_sources WHERE token LIKE 'enc1:%'
         UNION SELECT substr(previous_token, 1, {n}) FROM ingest_sources
         WHERE previous_token LIKE 'enc1:%'
         UNION SELECT CAST(substr(response, 1, {n}) AS TEXT) FROM idempotency_keys
         WHERE substr(response, 1, 5) = CAST('enc1:' AS BLOB)",
        n = SEALED_PREFIX_LEN
    );
    let mut stmt = conn.prepare(&sql).context("listing the main keys in use")?;
    let prefixes = stmt
        .query_map([], |r| r.get::<_, String>(0))
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .context("listing the main keys in use")?;
    Ok(prefixes
        .iter()
        .filter_map(|p| sealed_key_id(p).map(str::to_owned))
        .collect())
}

/// One pass over the endpoints in id order, `REENCRYPT_BATCH` rows per transaction,
/// sealing again every row whose secrets or credential headers are not under `prefix`.
/// Returns how many.
fn reencrypt(conn: &mut Connection, codec: &SecretCodec, prefix: &str) -> anyhow::Result<usize> {
    let select = format!(
        "SELECT id, secret, previous_secrets, headers, sealed_headers FROM endpoints
         WHERE id > ?1 AND (substr(secret, 1, {n}) <> ?2 OR substr(previous_secrets, 1, {n}) <> ?2
             OR sealed_headers IS NULL OR substr(sealed_headers, 1, {n}) <> ?2)
         ORDER BY id LIMIT ?3",
        n = SEALED_PREFIX_LEN
    );
    let mut after = String::new();
    let mut total = 0;
    loop {
        let tx = conn
            .transaction()
            .context("re-encrypting endpoint secrets")?;
        let rows: Vec<Stored> = tx
            .prepare_cached(&select)
            .and_then(|mut s| {
                s.query_map(params![after, prefix, REENCRYPT_BATCH as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?, r.get(4)?))
                })?
                .collect()
            })
            .context("reading endpoint secrets to re-encrypt")?;
        let Some((last, ..)) = rows.last() else {
            return Ok(total);
        };
        after = last.clone();
        for (id, secret, previous, headers, sealed_headers) in &rows {
            let fail = |e: String| anyhow::anyhow!("endpoint {id}: {e}");
            let (secret, previous) = codec
                .reseal(id, secret, previous)
                .map_err(fail)?
                .context("re-encryption needs a keyring")?;
            let headers = codec
                .reseal_headers(id, headers, sealed_headers.as_deref())
                .map_err(fail)?
                .context("re-encryption needs a keyring")?;
            tx.execute(
                "UPDATE endpoints SET secret = ?2, previous_secrets = ?3, headers = ?4,
                 sealed_headers = ?5 WHERE id = ?1",
                params![id, secret, previous, headers.plain, headers.sealed],
            )
            .context("writing re-encrypted endpoint secrets")?;
        }
        tx.commit().context("committing re-encrypted secrets")?;
        total += rows.len();
    }
}

/// One pass over the stored idempotent responses in key order, `REENCRYPT_BATCH` rows per
/// transaction, sealing again every response not under `prefix` (and those stored in the
/// clear). Returns how many.
fn reencrypt_responses(
    conn: &mut Connection,
    codec: &SecretCodec,
    prefix: &str,
) -> anyhow::Result<usize> {
    let select = format!(
        "SELECT key, response FROM idempotency_keys
         WHERE key > ?1 AND response IS NOT NULL AND substr(response, 1, {n}) <> ?2
         ORDER BY key LIMIT ?3",
        n = SEALED_PREFIX_LEN
    );
    let mut after = String::new();
    let mut total = 0;
    loop {
        let tx = conn
            .transaction()
            .context("re-encrypting idempotent responses")?;
        let rows: Vec<(String, Vec<u8>)> = tx
            .prepare_cached(&select)
            .and_then(|mut s| {
                s.query_map(
                    params![after, prefix.as_bytes(), REENCRYPT_BATCH as i64],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )?
                .collect()
            })
            .context("reading idempotent responses to re-encrypt")?;
        let Some((last, _)) = rows.last() else {
            return Ok(total);
        };
        after = last.clone();
        for (key, response) in &rows {
            let sealed = codec
                .reseal_response(key, response)
                .map_err(|e| anyhow::anyhow!("a stored idempotent response: {e}"))?
                .context("re-encryption needs a keyring")?;
            tx.execute(
                "UPDATE idempotency_keys SET response = ?2 WHERE key = ?1",
                params![key, sealed],
            )
            .context("writing a re-encrypted idempotent response")?;
        }
        tx.commit()
            .context("committing re-encrypted idempotent responses")?;
        total += rows.len();
    }
}

/// An endpoint row as the pass reads it: id, secret, previous secrets, headers, sealed
/// headers.
type Stored = (String, String, String, String, Option<String>);

/// Writes again every ingest source whose config, tokens or lookup hashes are not in
/// their current form, in one transaction (sources are few, so all are read). Returns
/// how many.
fn reencrypt_sources(conn: &mut Connection, codec: &SecretCodec) -> anyhow::Result<usize> {
    let tx = conn.transaction().context("re-encrypting ingest sources")?;
    let rows: Vec<(String, SourceCells)> = tx
        .prepare(
            "SELECT id, config, token, token_hash, previous_token, previous_token_hash
             FROM ingest_sources",
        )
        .and_then(|mut s| {
            s.query_map([], |r| {
                Ok((
                    r.get(0)?,
                    SourceCells {
                        config: r.get(1)?,
                        token: r.get(2)?,
                        token_hash: r.get(3)?,
                        previous_token: r.get(4)?,
                        previous_token_hash: r.get(5)?,
                    },
                ))
            })?
            .collect()
        })
        .context("reading ingest sources to re-encrypt")?;
    let mut total = 0;
    for (id, stored) in &rows {
        let Some(cells) = codec
            .reseal_source(id, stored)
            .map_err(|e| anyhow::anyhow!("ingest source {id}: {e}"))?
        else {
            continue;
        };
        tx.execute(
            "UPDATE ingest_sources SET config = ?2, token = ?3, token_hash = ?4,
             previous_token = ?5, previous_token_hash = ?6 WHERE id = ?1",
            params![
                id,
                cells.config,
                cells.token,
                cells.token_hash,
                cells.previous_token,
                cells.previous_token_hash
            ],
        )
        .context("writing a re-encrypted ingest source")?;
        total += 1;
    }
    tx.commit()
        .context("committing re-encrypted ingest sources")?;
    Ok(total)
}
