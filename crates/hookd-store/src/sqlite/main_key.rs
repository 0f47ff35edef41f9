//! At open: checks that the configured main key is the one the database's secrets are
//! encrypted with, and re-encrypts every secret not yet under it (see `crate::secrets`).
//! Runs on the writer connection before the writer thread starts, so nothing else
//! writes meanwhile.

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
            None => Ok(()),
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
    let done = reencrypt(conn, codec, &sealed_prefix(keys.main_id()))?;
    if done > 0 {
        tracing::info!(
            endpoints = done,
            main_key.id = keys.main_id(),
            "re-encrypted endpoint secrets under the main key"
        );
    }
    let sources = reencrypt_sources(conn, codec, &sealed_prefix(keys.main_id()))?;
    if sources > 0 {
        tracing::info!(
            sources,
            main_key.id = keys.main_id(),
            "re-encrypted ingest source configs under the main key"
        );
    }
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
         UNION SELECT substr(config, 1, {n}) FROM ingest_sources WHERE config LIKE 'enc1:%'",
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
/// sealing again every row whose secrets are not under `prefix`. Returns how many.
fn reencrypt(conn: &mut Connection, codec: &SecretCodec, prefix: &str) -> anyhow::Result<usize> {
    let select = format!(
        "SELECT id, secret, previous_secrets FROM endpoints
         WHERE id > ?1 AND (substr(secret, 1, {n}) <> ?2 OR substr(previous_secrets, 1, {n}) <> ?2)
         ORDER BY id LIMIT ?3",
        n = SEALED_PREFIX_LEN
    );
    let mut after = String::new();
    let mut total = 0;
    loop {
        let tx = conn
            .transaction()
            .context("re-encrypting endpoint secrets")?;
        let rows: Vec<(String, String, String)> = tx
            .prepare_cached(&select)
            .and_then(|mut s| {
                s.query_map(params![after, prefix, REENCRYPT_BATCH as i64], |r| {
                    Ok((r.get(0)?, r.get(1)?, r.get(2)?))
                })?
                .collect()
            })
            .context("reading endpoint secrets to re-encrypt")?;
        let Some((last, _, _)) = rows.last() else {
            return Ok(total);
        };
        after = last.clone();
        for (id, secret, previous) in &rows {
            let (secret, previous) = codec
                .reseal(id, secret, previous)
                .map_err(|e| anyhow::anyhow!("endpoint {id}: {e}"))?
                .context("re-encryption needs a keyring")?;
            tx.execute(
                "UPDATE endpoints SET secret = ?2, previous_secrets = ?3 WHERE id = ?1",
                params![id, secret, previous],
            )
            .context("writing re-encrypted endpoint secrets")?;
        }
        tx.commit().context("committing re-encrypted secrets")?;
        total += rows.len();
    }
}

/// Seals again every ingest source config not under `prefix`, in one transaction (sources
/// are few). Returns how many.
fn reencrypt_sources(
    conn: &mut Connection,
    codec: &SecretCodec,
    prefix: &str,
) -> anyhow::Result<usize> {
    let tx = conn
        .transaction()
        .context("re-encrypting ingest source configs")?;
    let rows: Vec<(String, String)> = tx
        .prepare(&format!(
            "SELECT id, config FROM ingest_sources WHERE substr(config, 1, {n}) <> ?1",
            n = SEALED_PREFIX_LEN
        ))
        .and_then(|mut s| {
            s.query_map([prefix], |r| Ok((r.get(0)?, r.get(1)?)))?
                .collect()
        })
        .context("reading ingest source configs to re-encrypt")?;
    for (id, config) in &rows {
        let sealed = codec
            .reseal_text(super::sources::CONFIG_COLUMN, id, config)
            .map_err(|e| anyhow::anyhow!("ingest source {id}: {e}"))?
            .context("re-encryption needs a keyring")?;
        tx.execute(
            "UPDATE ingest_sources SET config = ?2 WHERE id = ?1",
            params![id, sealed],
        )
        .context("writing a re-encrypted ingest source config")?;
    }
    tx.commit()
        .context("committing re-encrypted ingest source configs")?;
    Ok(rows.len())
}
