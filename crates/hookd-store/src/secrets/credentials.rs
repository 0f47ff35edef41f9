//! Credentials other than signing keys, at rest: endpoint custom headers that carry a
//! credential, and ingest receive tokens.
//!
//! Headers: an endpoint's headers are split on write. Those `GET .../headers` lists as
//! sensitive ([`hookd_core::validate::is_sensitive_header`], the one rule) go, as one JSON
//! object, into the sealed `sealed_headers` column; the others stay readable in `headers`.
//! Reads merge the two, so the API and delivery see the same map as before. A row written
//! before the split (`sealed_headers` NULL, credentials in `headers`) still reads whole and
//! is split at the next open with a keyring.
//!
//! Tokens: the receive path finds a source by its token, so a token is stored twice: sealed
//! in `token` (the API still shows the `ingestUrl`), and as a lookup hash in `token_hash`
//! (`hmac1:<key id>:<hex HMAC-SHA256 under a key derived from that main key>`). A lookup
//! tries the hash under every key of the keyring, so a rotation keeps every token working
//! while the rows are hashed again. Likewise `previous_token` / `previous_token_hash`.
//! Without a keyring the hash is a plain SHA-256 (`sha256:<hex>`) and the token plaintext.
//!
//! Idempotent responses: a stored response can hold a credential (`POST` source answers
//! with the `ingestUrl`), so `idempotency_keys.response` is sealed too, its key as
//! associated data.
//!
//! Must not: log or put in an error message any header value, token or response.

use super::{sealed_key_id, text_aad, Keyring, SecretCodec};
use crate::{IdempotencyRecord, IdempotencyReservation, StoreError, StoreResult};
use hookd_core::crypto::hmac_sha256;
use hookd_core::model::IngestSource;
use hookd_core::validate::is_sensitive_header;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;

/// The column names in the associated data of sealed cells.
pub(crate) const HEADERS_COLUMN: &str = "endpoints.sealed_headers";
pub(crate) const TOKEN_COLUMN: &str = "ingest_sources.token";
pub(crate) const PREVIOUS_TOKEN_COLUMN: &str = "ingest_sources.previous_token";
pub(crate) const CONFIG_COLUMN: &str = "ingest_sources.config";

const KEYED_HASH_TAG: &str = "hmac1:";
const PLAIN_HASH_TAG: &str = "sha256:";

/// The HMAC key of lookup hashes under a main key: HMAC-SHA256(main key, label).
pub(super) fn lookup_key(main: &[u8; super::MAIN_KEY_BYTES]) -> [u8; 32] {
    hmac_sha256(main, &[b"hookd receive token lookup key"])
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The cells of an endpoint's custom headers: `headers` (shown) and `sealed_headers`.
pub(crate) struct HeaderCells {
    pub(crate) plain: String,
    pub(crate) sealed: String,
}

/// The cells of an ingest source that hold secrets, as written or as read.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SourceCells {
    pub(crate) config: String,
    pub(crate) token: String,
    /// `None` only in a row written before lookup hashes existed.
    pub(crate) token_hash: Option<String>,
    pub(crate) previous_token: Option<String>,
    pub(crate) previous_token_hash: Option<String>,
}

impl Keyring {
    fn token_hash_with(key: &super::MainKey, token: &str) -> String {
        let mac = hmac_sha256(&key.lookup, &[token.as_bytes()]);
        format!("{KEYED_HASH_TAG}{}:{}", key.id, hex(&mac))
    }
}

fn plain_token_hash(token: &str) -> String {
    let mut hash = Sha256::new();
    hash.update(b"hookd receive token\0");
    hash.update(token.as_bytes());
    format!("{PLAIN_HASH_TAG}{}", hex(&hash.finalize()))
}

impl SecretCodec {
    /// Splits `headers` into the shown cell and the sealed cell of endpoint `ep`.
    pub(crate) fn seal_headers(
        &self,
        ep: &str,
        headers: &BTreeMap<String, String>,
    ) -> StoreResult<HeaderCells> {
        let (sensitive, shown): (BTreeMap<_, _>, BTreeMap<_, _>) = headers
            .iter()
            .partition(|(name, _)| is_sensitive_header(&name.to_ascii_lowercase()));
        let json = |m: &BTreeMap<&String, &String>| {
            serde_json::to_string(m).map_err(|e| StoreError::Other(e.into()))
        };
        Ok(HeaderCells {
            plain: json(&shown)?,
            sealed: self.seal_text(HEADERS_COLUMN, ep, &json(&sensitive)?),
        })
    }

    /// The headers of endpoint `ep` from its two cells (`sealed` is `None` in a row
    /// written before the split).
    pub(crate) fn open_headers(
        &self,
        ep: &str,
        plain: &str,
        sealed: Option<&str>,
    ) -> Result<BTreeMap<String, String>, String> {
        let mut headers: BTreeMap<String, String> =
            serde_json::from_str(plain).map_err(|_| "headers is not a JSON object".to_owned())?;
        if let Some(sealed) = sealed {
            let text = self.open_text(HEADERS_COLUMN, ep, sealed)?;
            let sensitive: BTreeMap<String, String> = serde_json::from_str(&text)
                .map_err(|_| "sealed_headers is not a JSON object".to_owned())?;
            headers.extend(sensitive);
        }
        Ok(headers)
    }

    /// Both header cells written again, split and sealed under the main key (`None`
    /// without a keyring), for the migration and re-encryption at open.
    pub(crate) fn reseal_headers(
        &self,
        ep: &str,
        plain: &str,
        sealed: Option<&str>,
    ) -> Result<Option<HeaderCells>, String> {
        if self.keyring().is_none() {
            return Ok(None);
        }
        let headers = self.open_headers(ep, plain, sealed)?;
        self.seal_headers(ep, &headers)
            .map(Some)
            .map_err(|_| "the headers do not encode".to_owned())
    }

    /// The lookup hash a token is written with.
    pub(crate) fn token_hash(&self, token: &str) -> String {
        match self.keyring() {
            Some(keys) => Keyring::token_hash_with(&keys.main, token),
            None => plain_token_hash(token),
        }
    }

    /// Every lookup hash a stored row may hold for `token`: one per key of the keyring
    /// (the main key first), or the plain hash without one.
    pub(crate) fn token_lookups(&self, token: &str) -> Vec<String> {
        match self.keyring() {
            Some(keys) => std::iter::once(&keys.main)
                .chain(&keys.previous)
                .map(|k| Keyring::token_hash_with(k, token))
                .collect(),
            None => vec![plain_token_hash(token)],
        }
    }

    /// The secret cells of `source` as they are written.
    pub(crate) fn seal_source(&self, source: &IngestSource) -> StoreResult<SourceCells> {
        let id = source.id.as_str();
        let config =
            serde_json::to_string(&source.config).map_err(|e| StoreError::Other(e.into()))?;
        let previous = source.previous_token.as_ref().map(|p| p.token.as_str());
        Ok(SourceCells {
            config: self.seal_text(CONFIG_COLUMN, id, &config),
            token: self.seal_text(TOKEN_COLUMN, id, &source.token),
            token_hash: Some(self.token_hash(&source.token)),
            previous_token: previous.map(|t| self.seal_text(PREVIOUS_TOKEN_COLUMN, id, t)),
            previous_token_hash: previous.map(|t| self.token_hash(t)),
        })
    }

    /// The cells of a stored source written again when any is not in its current form
    /// (sealed and hashed under the main key, or hashed at all without a keyring); `None`
    /// when all are.
    pub(crate) fn reseal_source(
        &self,
        id: &str,
        stored: &SourceCells,
    ) -> Result<Option<SourceCells>, String> {
        let current = |cell: &str| match self.keyring() {
            Some(keys) => sealed_key_id(cell) == Some(keys.main_id()),
            None => true,
        };
        let hashed = |hash: Option<&str>| match (hash, self.keyring()) {
            (Some(h), Some(keys)) => {
                h.strip_prefix(KEYED_HASH_TAG)
                    .and_then(|rest| rest.split_once(':'))
                    .map(|(key, _)| key)
                    == Some(keys.main_id())
            }
            (Some(h), None) => h.starts_with(PLAIN_HASH_TAG),
            (None, _) => false,
        };
        let fine = current(&stored.config)
            && current(&stored.token)
            && hashed(stored.token_hash.as_deref())
            && match &stored.previous_token {
                Some(p) => current(p) && hashed(stored.previous_token_hash.as_deref()),
                None => true,
            };
        if fine {
            return Ok(None);
        }
        let token = self.open_text(TOKEN_COLUMN, id, &stored.token)?;
        let previous = stored
            .previous_token
            .as_deref()
            .map(|p| self.open_text(PREVIOUS_TOKEN_COLUMN, id, p))
            .transpose()?;
        let config = match self.keyring() {
            Some(_) => self
                .reseal_text(CONFIG_COLUMN, id, &stored.config)?
                .unwrap_or_default(),
            None => stored.config.clone(),
        };
        Ok(Some(SourceCells {
            config,
            token: self.seal_text(TOKEN_COLUMN, id, &token),
            token_hash: Some(self.token_hash(&token)),
            previous_token: previous
                .as_deref()
                .map(|t| self.seal_text(PREVIOUS_TOKEN_COLUMN, id, t)),
            previous_token_hash: previous.as_deref().map(|t| self.token_hash(t)),
        }))
    }
}

/// The column of stored idempotent responses (a response can carry a credential: a
/// source's `ingestUrl` holds its receive token).
pub(crate) const RESPONSE_COLUMN: &str = "idempotency_keys.response";

impl SecretCodec {
    /// A response body as stored under idempotency key `key`: sealed with a keyring (the
    /// text of a sealed cell, as bytes), as is without one.
    pub(crate) fn seal_response(&self, key: &str, body: &[u8]) -> Vec<u8> {
        match self.keyring() {
            Some(keys) => keys
                .seal(body, &text_aad(RESPONSE_COLUMN, key))
                .into_bytes(),
            None => body.to_vec(),
        }
    }

    /// A stored response body opened (one stored in the clear, by an older hookd or a
    /// store without a keyring, passes through: a response body never starts `enc1:`).
    pub(crate) fn open_response(&self, key: &str, stored: Vec<u8>) -> Result<Vec<u8>, String> {
        let sealed = match std::str::from_utf8(&stored) {
            Ok(text) if sealed_key_id(text).is_some() => text,
            _ => return Ok(stored),
        };
        let keys = self
            .keyring()
            .ok_or("a stored response is encrypted but no main key is configured")?;
        keys.open(sealed, &text_aad(RESPONSE_COLUMN, key))
    }

    /// A stored response sealed again under the main key (`None` without a keyring), for
    /// re-encryption.
    pub(crate) fn reseal_response(
        &self,
        key: &str,
        stored: &[u8],
    ) -> Result<Option<Vec<u8>>, String> {
        if self.keyring().is_none() {
            return Ok(None);
        }
        let body = self.open_response(key, stored.to_vec())?;
        Ok(Some(self.seal_response(key, &body)))
    }

    /// `record` with its response opened; the error names the key's row, not its content.
    pub(crate) fn open_record(
        &self,
        key: &str,
        mut record: IdempotencyRecord,
    ) -> StoreResult<IdempotencyRecord> {
        if let Some((status, body)) = record.response.take() {
            let body = self.open_response(key, body).map_err(|e| {
                StoreError::Other(anyhow::anyhow!("a stored idempotent response: {e}"))
            })?;
            record.response = Some((status, body));
        }
        Ok(record)
    }

    /// [`Self::open_record`] for what a reservation found.
    pub(crate) fn open_reservation(
        &self,
        key: &str,
        reservation: IdempotencyReservation,
    ) -> StoreResult<IdempotencyReservation> {
        Ok(match reservation {
            IdempotencyReservation::Existing(record) => {
                IdempotencyReservation::Existing(self.open_record(key, record)?)
            }
            reserved => reserved,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::MainKey;
    use super::*;

    fn codec(main: MainKey, previous: Vec<MainKey>) -> SecretCodec {
        SecretCodec::new(Some(Keyring::new(main, previous)))
    }

    #[test]
    fn credential_headers_are_sealed_and_read_back_merged() {
        let codec = codec(MainKey::generate().0, Vec::new());
        let headers = BTreeMap::from([
            ("Authorization".to_owned(), "Bearer marker-auth".to_owned()),
            ("X-Api-Key".to_owned(), "marker-key".to_owned()),
            ("X-Team".to_owned(), "billing".to_owned()),
        ]);
        let cells = codec.seal_headers("ep_1", &headers).unwrap();
        assert_eq!(cells.plain, r#"{"X-Team":"billing"}"#);
        assert!(!cells.sealed.contains("marker"));
        let read = codec
            .open_headers("ep_1", &cells.plain, Some(&cells.sealed))
            .unwrap();
        assert_eq!(read, headers);
        assert!(codec
            .open_headers("ep_2", &cells.plain, Some(&cells.sealed))
            .is_err());
        // A row from before the split reads whole and is split again.
        let old = serde_json::to_string(&headers).unwrap();
        assert_eq!(codec.open_headers("ep_1", &old, None).unwrap(), headers);
        let again = codec.reseal_headers("ep_1", &old, None).unwrap().unwrap();
        assert_eq!(again.plain, cells.plain);
    }

    #[test]
    fn stored_responses_are_sealed_per_key_and_older_plain_ones_still_read() {
        let codec = codec(MainKey::generate().0, Vec::new());
        let body = br#"{"ingestUrl":"http://h/ingest/mk-token"}"#;
        let sealed = codec.seal_response("k1", body);
        assert!(!String::from_utf8_lossy(&sealed).contains("mk-token"));
        assert_eq!(codec.open_response("k1", sealed.clone()).unwrap(), body);
        assert!(codec.open_response("k2", sealed.clone()).is_err());
        assert_eq!(codec.open_response("k1", body.to_vec()).unwrap(), body);
        let again = codec.reseal_response("k1", body).unwrap().unwrap();
        assert_eq!(codec.open_response("k1", again).unwrap(), body);
        assert!(SecretCodec::default().open_response("k1", sealed).is_err());
    }

    #[test]
    fn token_lookups_find_hashes_of_every_key_and_reseal_moves_them_to_the_main_key() {
        let (old, old_b64) = MainKey::generate();
        let before = codec(old, Vec::new());
        let hash = before.token_hash("tok-marker");
        assert!(!hash.contains("tok-marker"));
        let rotated = codec(
            MainKey::generate().0,
            vec![MainKey::from_base64(&old_b64).unwrap()],
        );
        assert!(rotated.token_lookups("tok-marker").contains(&hash));
        assert_ne!(rotated.token_hash("tok-marker"), hash);
        let stored = SourceCells {
            config: before.seal_text(CONFIG_COLUMN, "src_1", "{}"),
            token: before.seal_text(TOKEN_COLUMN, "src_1", "tok-marker"),
            token_hash: Some(hash),
            previous_token: None,
            previous_token_hash: None,
        };
        let moved = rotated.reseal_source("src_1", &stored).unwrap().unwrap();
        assert_eq!(
            moved.token_hash.as_deref(),
            Some(rotated.token_hash("tok-marker").as_str())
        );
        assert_eq!(
            rotated
                .open_text(TOKEN_COLUMN, "src_1", &moved.token)
                .unwrap(),
            "tok-marker"
        );
        assert_eq!(rotated.reseal_source("src_1", &moved).unwrap(), None);
        // A plaintext row from before hashing gets its hash without a keyring too.
        let plain = SourceCells {
            config: "{}".into(),
            token: "tok-plain".into(),
            token_hash: None,
            previous_token: None,
            previous_token_hash: None,
        };
        let keyless = SecretCodec::default();
        let hashed = keyless.reseal_source("src_2", &plain).unwrap().unwrap();
        assert_eq!(hashed.token, "tok-plain");
        assert_eq!(
            keyless.token_lookups("tok-plain"),
            vec![hashed.token_hash.unwrap()]
        );
    }
}
