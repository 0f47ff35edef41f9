//! At connect: checks that the configured main key is the one the database's secrets are
//! encrypted with, and re-encrypts every secret not yet under it (see `crate::secrets`):
//! endpoint secrets and credential headers (splitting rows written before headers were
//! sealed), stored idempotent responses, ingest source configs and receive tokens with
//! their lookup hashes (hashing rows written before tokens were).
//!
//! Safe with several nodes: the key check row is created with `ON CONFLICT DO NOTHING` and
//! read back (two nodes starting with different keys on an empty database: one refuses);
//! each re-encrypted row is written only if its columns still hold what was read (a
//! compare-and-set, so an endpoint changed meanwhile by another node is left as that node
//! wrote it); the check moves to the new key only once no row is under another key.

use crate::secrets::credentials::SourceCells;
use crate::secrets::{
    sealed_key_id, sealed_prefix, wrong_key, SecretCodec, REENCRYPT_BATCH, SEALED_PREFIX_LEN,
};
use anyhow::Context;
use tokio_postgres::Client;

/// Refuses a keyring (or its absence) that does not fit the database, then brings every
/// secret under the main key and, when none is left under another, records that key as
/// the database's.
pub(super) async fn prepare(client: &mut Client, codec: &SecretCodec) -> anyhow::Result<()> {
    let Some(keys) = codec.keyring() else {
        return match read_check(client).await? {
            Some(found) => Err(wrong_key(&found, None)),
            // Without a keyring only receive tokens need a pass: their lookup hashes.
            None => reencrypt_sources(client, codec).await.map(drop),
        };
    };
    client
        .execute(
            "INSERT INTO main_key_check (id, key_id) VALUES (1, $1) ON CONFLICT (id) DO NOTHING",
            &[&keys.main_id()],
        )
        .await
        .context("recording the main key check")?;
    let check = read_check(client)
        .await?
        .context("the main key check row is missing")?;
    if !keys.knows(&check) {
        return Err(wrong_key(&check, Some(keys)));
    }
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
         UNION SELECT encode(substring(response FROM 1 FOR {n}), 'escape') FROM idempotency_keys
         WHERE substring(response FROM 1 FOR 5) = 'enc1:'::bytea",
        n = SEALED_PREFIX_LEN
    );
    for row in client
        .query(&sql, &[])
        .await
        .context("listing the main keys in use")?
    {
        let prefix: String = row.try_get(0).context("listing the main keys in use")?;
        if let Some(id) = sealed_key_id(&prefix).filter(|id| !keys.knows(id)) {
            return Err(wrong_key(id, Some(keys)));
        }
    }
    let prefix = sealed_prefix(keys.main_id());
    let done = reencrypt(client, codec, &prefix).await?;
    if done > 0 {
        tracing::info!(
            endpoints = done,
            main_key.id = keys.main_id(),
            "re-encrypted endpoint secrets and credential headers under the main key"
        );
    }
    let responses = reencrypt_responses(client, codec, &prefix).await?;
    if responses > 0 {
        tracing::info!(
            responses,
            main_key.id = keys.main_id(),
            "re-encrypted stored idempotent responses under the main key"
        );
    }
    let sources = reencrypt_sources(client, codec).await?;
    if sources > 0 {
        tracing::info!(
            sources,
            main_key.id = keys.main_id(),
            "re-encrypted ingest source configs and receive tokens under the main key"
        );
    }
    let sql = format!(
        "UPDATE main_key_check SET key_id = $1 WHERE id = 1 AND NOT EXISTS (
             SELECT 1 FROM endpoints
             WHERE substr(secret, 1, {n}) <> $2 OR substr(previous_secrets, 1, {n}) <> $2
                OR substr(sealed_headers, 1, {n}) <> $2)
         AND NOT EXISTS (SELECT 1 FROM ingest_sources WHERE substr(config, 1, {n}) <> $2
             OR substr(token, 1, {n}) <> $2 OR substr(previous_token, 1, {n}) <> $2)
         AND NOT EXISTS (SELECT 1 FROM idempotency_keys
             WHERE substring(response FROM 1 FOR {n}) <> $3)",
        n = SEALED_PREFIX_LEN
    );
    client
        .execute(&sql, &[&keys.main_id(), &prefix, &prefix.as_bytes()])
        .await
        .context("recording the main key check")?;
    Ok(())
}

async fn read_check(client: &Client) -> anyhow::Result<Option<String>> {
    client
        .query_opt("SELECT key_id FROM main_key_check WHERE id = 1", &[])
        .await
        .context("reading the main key check")?
        .map(|row| row.try_get(0))
        .transpose()
        .context("reading the main key check")
}

/// One pass over the endpoints in id order, `REENCRYPT_BATCH` rows per statement, sealing
/// again every row whose secrets or credential headers are not under `prefix`. Returns
/// how many were written.
async fn reencrypt(client: &Client, codec: &SecretCodec, prefix: &str) -> anyhow::Result<u64> {
    let select = format!(
        "SELECT id, secret, previous_secrets, headers, sealed_headers FROM endpoints
         WHERE id > $1 AND (substr(secret, 1, {n}) <> $2 OR substr(previous_secrets, 1, {n}) <> $2
             OR sealed_headers IS NULL OR substr(sealed_headers, 1, {n}) <> $2)
         ORDER BY id LIMIT $3",
        n = SEALED_PREFIX_LEN
    );
    let update = "UPDATE endpoints e SET secret = v.new_secret, previous_secrets = v.new_previous,
            headers = v.new_headers, sealed_headers = v.new_sealed
        FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[],
                $7::text[], $8::text[], $9::text[])
             AS v(id, old_secret, old_previous, new_secret, new_previous, old_headers,
                old_sealed, new_headers, new_sealed)
        WHERE e.id = v.id AND e.secret = v.old_secret AND e.previous_secrets = v.old_previous
            AND e.headers = v.old_headers AND e.sealed_headers IS NOT DISTINCT FROM v.old_sealed";
    let limit = REENCRYPT_BATCH as i64;
    let mut after = String::new();
    let mut total = 0;
    loop {
        let rows = client
            .query(&select, &[&after, &prefix, &limit])
            .await
            .context("reading endpoint secrets to re-encrypt")?;
        if rows.is_empty() {
            return Ok(total);
        }
        let mut columns: [Vec<String>; 8] = Default::default();
        let mut old_sealed: Vec<Option<String>> = Vec::with_capacity(rows.len());
        for row in &rows {
            let (id, secret, previous, headers): (String, String, String, String) = (
                row.try_get(0)?,
                row.try_get(1)?,
                row.try_get(2)?,
                row.try_get(3)?,
            );
            let sealed: Option<String> = row.try_get(4)?;
            let fail = |e: String| anyhow::anyhow!("endpoint {id}: {e}");
            let (new_secret, new_previous) = codec
                .reseal(&id, &secret, &previous)
                .map_err(fail)?
                .context("re-encryption needs a keyring")?;
            let new_headers = codec
                .reseal_headers(&id, &headers, sealed.as_deref())
                .map_err(fail)?
                .context("re-encryption needs a keyring")?;
            for (column, value) in columns.iter_mut().zip([
                id,
                secret,
                previous,
                new_secret,
                new_previous,
                headers,
                new_headers.plain,
                new_headers.sealed,
            ]) {
                column.push(value);
            }
            old_sealed.push(sealed);
        }
        after = columns[0].last().cloned().unwrap_or_default();
        let [ids, old_s, old_p, new_s, new_p, old_h, new_h, new_sealed] = &columns;
        total += client
            .execute(
                update,
                &[
                    ids,
                    old_s,
                    old_p,
                    new_s,
                    new_p,
                    old_h,
                    &old_sealed,
                    new_h,
                    new_sealed,
                ],
            )
            .await
            .context("writing re-encrypted endpoint secrets")?;
    }
}

/// One pass over the stored idempotent responses in key order, `REENCRYPT_BATCH` rows per
/// statement, sealing again every response not under `prefix` (and those stored in the
/// clear), each written only if it still holds what was read. Returns how many.
async fn reencrypt_responses(
    client: &Client,
    codec: &SecretCodec,
    prefix: &str,
) -> anyhow::Result<u64> {
    let select = format!(
        "SELECT key, response FROM idempotency_keys
         WHERE key > $1 AND response IS NOT NULL AND substring(response FROM 1 FOR {n}) <> $2
         ORDER BY key LIMIT $3",
        n = SEALED_PREFIX_LEN
    );
    let update = "UPDATE idempotency_keys k SET response = v.new_response
        FROM unnest($1::text[], $2::bytea[], $3::bytea[]) AS v(key, old_response, new_response)
        WHERE k.key = v.key AND k.response = v.old_response";
    let limit = REENCRYPT_BATCH as i64;
    let mut after = String::new();
    let mut total = 0;
    loop {
        let rows = client
            .query(&select, &[&after, &prefix.as_bytes(), &limit])
            .await
            .context("reading idempotent responses to re-encrypt")?;
        let Some(last) = rows.last() else {
            return Ok(total);
        };
        after = last.try_get(0)?;
        let (mut keys, mut old, mut new) = (Vec::new(), Vec::new(), Vec::new());
        for row in &rows {
            let (key, response): (String, Vec<u8>) = (row.try_get(0)?, row.try_get(1)?);
            let sealed = codec
                .reseal_response(&key, &response)
                .map_err(|e| anyhow::anyhow!("a stored idempotent response: {e}"))?
                .context("re-encryption needs a keyring")?;
            keys.push(key);
            old.push(response);
            new.push(sealed);
        }
        total += client
            .execute(update, &[&keys, &old, &new])
            .await
            .context("writing re-encrypted idempotent responses")?;
    }
}

/// Writes again every ingest source whose config, tokens or lookup hashes are not in
/// their current form (sources are few: one pass over all), each only if its cells still
/// hold what was read. Returns how many were written.
async fn reencrypt_sources(client: &Client, codec: &SecretCodec) -> anyhow::Result<u64> {
    let rows = client
        .query(
            "SELECT id, config, token, token_hash, previous_token, previous_token_hash
             FROM ingest_sources",
            &[],
        )
        .await
        .context("reading ingest sources to re-encrypt")?;
    let mut total = 0;
    for row in &rows {
        let id: String = row.try_get(0)?;
        let stored = SourceCells {
            config: row.try_get(1)?,
            token: row.try_get(2)?,
            token_hash: row.try_get(3)?,
            previous_token: row.try_get(4)?,
            previous_token_hash: row.try_get(5)?,
        };
        let Some(cells) = codec
            .reseal_source(&id, &stored)
            .map_err(|e| anyhow::anyhow!("ingest source {id}: {e}"))?
        else {
            continue;
        };
        total += client
            .execute(
                "UPDATE ingest_sources SET config = $7, token = $8, token_hash = $9,
                     previous_token = $10, previous_token_hash = $11
                 WHERE id = $1 AND config = $2 AND token = $3
                     AND token_hash IS NOT DISTINCT FROM $4
                     AND previous_token IS NOT DISTINCT FROM $5
                     AND previous_token_hash IS NOT DISTINCT FROM $6",
                &[
                    &id,
                    &stored.config,
                    &stored.token,
                    &stored.token_hash,
                    &stored.previous_token,
                    &stored.previous_token_hash,
                    &cells.config,
                    &cells.token,
                    &cells.token_hash,
                    &cells.previous_token,
                    &cells.previous_token_hash,
                ],
            )
            .await
            .context("writing a re-encrypted ingest source")?;
    }
    Ok(total)
}
