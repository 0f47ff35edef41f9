//! Endpoint secrets at rest.
//!
//! Both backends keep an endpoint's signing key in the `secret` column and its rotated-out
//! keys in `previous_secrets` (JSON: `[{"key": "whsec_...", "expiresAt": <epoch ms>}, ...]`,
//! newest first). With a [`Keyring`], each column holds
//! `enc1:<key id>:<base64(nonce ‖ XChaCha20-Poly1305 ciphertext)>` instead: a random
//! 24-byte nonce per value, the endpoint id and column name as associated data (a value
//! copied to another row or column does not decrypt), and the id of the main key that
//! sealed it, so a keyring holding previous main keys can still open older values.
//! Plaintext values (written before encryption existed, or by a store opened without a
//! keyring) are still read, and re-encrypted at the next open with a keyring.
//!
//! The key id is the first 8 bytes of SHA-256 over a fixed label and the key, in hex: it
//! identifies a key without revealing it, and doubles as the database's key check value
//! (table `main_key_check`) that keeps a node with the wrong key from starting.
//!
//! [`credentials`] keeps the other credentials the same way: custom header values that are
//! credentials, and ingest receive tokens (sealed, and found by a keyed lookup hash).
//!
//! Must not: log or put in an error message any key or secret.

use crate::{StoreError, StoreResult};
use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hookd_core::ids::EndpointId;
use hookd_core::model::PreviousSecret;
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::fmt;
use std::sync::Arc;

pub(crate) mod credentials;

/// Bytes of a main key.
pub const MAIN_KEY_BYTES: usize = 32;
const NONCE_BYTES: usize = 24;
const SEALED_TAG: &str = "enc1:";
const KEY_ID_HEX: usize = 16;
/// Length of `enc1:<key id>:`, the prefix that names the key of a sealed value.
pub(crate) const SEALED_PREFIX_LEN: usize = SEALED_TAG.len() + KEY_ID_HEX + 1;
/// Rows re-encrypted per batch at open.
pub(crate) const REENCRYPT_BATCH: usize = 256;

/// A 32-byte key that encrypts endpoint secrets. `Debug` shows only its id.
#[derive(Clone)]
pub struct MainKey {
    id: String,
    cipher: XChaCha20Poly1305,
    /// The HMAC key of lookup hashes (receive tokens), derived from the key; see
    /// [`credentials`].
    lookup: [u8; 32],
}

/// Why a main key was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("a main key must be the base64 of {MAIN_KEY_BYTES} bytes")]
pub struct MainKeyError;

impl MainKey {
    /// The key from its base64 text (standard alphabet, padded or not).
    pub fn from_base64(text: &str) -> Result<Self, MainKeyError> {
        let text = text.trim();
        let bytes = B64
            .decode(text)
            .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(text))
            .map_err(|_| MainKeyError)?;
        let bytes: [u8; MAIN_KEY_BYTES] = bytes.try_into().map_err(|_| MainKeyError)?;
        Ok(Self::from_bytes(&bytes))
    }

    fn from_bytes(bytes: &[u8; MAIN_KEY_BYTES]) -> Self {
        let mut hash = Sha256::new();
        hash.update(b"hookd main key id\0");
        hash.update(bytes);
        let digest = hash.finalize();
        let id = digest[..KEY_ID_HEX / 2]
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Self {
            id,
            cipher: XChaCha20Poly1305::new(bytes.into()),
            lookup: credentials::lookup_key(bytes),
        }
    }

    /// A fresh random key and its base64 text (to store or print once).
    pub fn generate() -> (Self, String) {
        let mut bytes = [0u8; MAIN_KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut bytes);
        (Self::from_bytes(&bytes), B64.encode(bytes))
    }

    /// The key's public identifier (16 hex digits), stored next to every value it seals.
    pub fn id(&self) -> &str {
        &self.id
    }
}

impl fmt::Debug for MainKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "MainKey({})", self.id)
    }
}

/// The main key that seals, and the previous ones that may still open older values while
/// they are re-encrypted.
#[derive(Clone, Debug)]
pub struct Keyring {
    main: MainKey,
    previous: Vec<MainKey>,
}

impl Keyring {
    pub fn new(main: MainKey, previous: Vec<MainKey>) -> Self {
        Self { main, previous }
    }

    /// The id of the key new values are sealed with.
    pub fn main_id(&self) -> &str {
        self.main.id()
    }

    /// Whether this keyring can open values sealed by the key with this id.
    pub fn knows(&self, id: &str) -> bool {
        self.find(id).is_some()
    }

    /// Every key id, the main one first, for error messages.
    pub fn ids(&self) -> Vec<&str> {
        std::iter::once(&self.main)
            .chain(&self.previous)
            .map(MainKey::id)
            .collect()
    }

    fn find(&self, id: &str) -> Option<&MainKey> {
        std::iter::once(&self.main)
            .chain(&self.previous)
            .find(|k| k.id == id)
    }

    fn seal(&self, plaintext: &[u8], aad: &[u8]) -> String {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::thread_rng().fill_bytes(&mut nonce);
        let ciphertext = self
            .main
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: plaintext,
                    aad,
                },
            )
            .expect("XChaCha20-Poly1305 encrypts any message of this size");
        let mut sealed = Vec::with_capacity(NONCE_BYTES + ciphertext.len());
        sealed.extend_from_slice(&nonce);
        sealed.extend_from_slice(&ciphertext);
        format!("{SEALED_TAG}{}:{}", self.main.id, B64.encode(sealed))
    }

    fn open(&self, sealed: &str, aad: &[u8]) -> Result<Vec<u8>, String> {
        let (id, body) = split_sealed(sealed).ok_or("a sealed secret is malformed")?;
        let key = self.find(id).ok_or_else(|| {
            format!("a secret is sealed with main key {id}, which is not configured")
        })?;
        let bytes = B64
            .decode(body)
            .map_err(|_| "a sealed secret is malformed".to_owned())?;
        if bytes.len() < NONCE_BYTES {
            return Err("a sealed secret is malformed".to_owned());
        }
        let (nonce, ciphertext) = bytes.split_at(NONCE_BYTES);
        key.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad,
                },
            )
            .map_err(|_| format!("a secret sealed with main key {id} does not decrypt"))
    }
}

/// `(key id, base64)` of a sealed value; `None` for plaintext.
fn split_sealed(stored: &str) -> Option<(&str, &str)> {
    let rest = stored.strip_prefix(SEALED_TAG)?;
    let (id, body) = rest.split_once(':')?;
    (id.len() == KEY_ID_HEX).then_some((id, body))
}

/// The id of the main key that sealed a stored value; `None` for plaintext.
pub(crate) fn sealed_key_id(stored: &str) -> Option<&str> {
    split_sealed(stored).map(|(id, _)| id)
}

/// `enc1:<id>:`, the prefix of values sealed by the key with this id.
pub(crate) fn sealed_prefix(id: &str) -> String {
    format!("{SEALED_TAG}{id}:")
}

/// How a store writes and reads the secret columns: sealed with a keyring, or plaintext
/// (a store opened without one, for tests and tools). Cheap to clone.
#[derive(Clone, Default)]
pub(crate) struct SecretCodec(Option<Arc<Keyring>>);

#[derive(Serialize, Deserialize)]
struct Stored {
    key: String,
    #[serde(rename = "expiresAt")]
    expires_at: i64,
}

impl SecretCodec {
    pub(crate) fn new(keyring: Option<Keyring>) -> Self {
        Self(keyring.map(Arc::new))
    }

    pub(crate) fn keyring(&self) -> Option<&Keyring> {
        self.0.as_deref()
    }

    fn seal(&self, plaintext: &str, aad: &[u8]) -> String {
        match &self.0 {
            Some(keys) => keys.seal(plaintext.as_bytes(), aad),
            None => plaintext.to_owned(),
        }
    }

    fn open(&self, stored: &str, aad: &[u8]) -> Result<String, String> {
        if sealed_key_id(stored).is_none() {
            return Ok(stored.to_owned());
        }
        let keys = self
            .0
            .as_deref()
            .ok_or("a secret is encrypted but no main key is configured")?;
        String::from_utf8(keys.open(stored, aad)?)
            .map_err(|_| "a decrypted secret is not text".to_owned())
    }

    /// The `secret` column value of an endpoint.
    pub(crate) fn seal_secret(&self, ep: &EndpointId, secret: &EndpointSecret) -> String {
        self.seal(secret.expose(), &aad(ep, "secret"))
    }

    /// Reads the `secret` column back; the error names what is wrong without the key.
    pub(crate) fn open_secret(&self, ep: &str, stored: &str) -> Result<EndpointSecret, String> {
        let text = self.open(stored, &aad_str(ep, "secret"))?;
        EndpointSecret::parse(&text).map_err(|_| "the secret is not a valid key".to_owned())
    }

    /// The `previous_secrets` column value of an endpoint.
    pub(crate) fn seal_previous(
        &self,
        ep: &EndpointId,
        previous: &[PreviousSecret],
    ) -> StoreResult<String> {
        let stored: Vec<Stored> = previous
            .iter()
            .map(|p| Stored {
                key: p.secret.expose().to_owned(),
                expires_at: p.expires_at.as_millis(),
            })
            .collect();
        let json = serde_json::to_string(&stored).map_err(|e| StoreError::Other(e.into()))?;
        Ok(self.seal(&json, &aad(ep, "previous_secrets")))
    }

    /// Reads the `previous_secrets` column back; the error names what is wrong without
    /// the keys.
    pub(crate) fn open_previous(
        &self,
        ep: &str,
        stored: &str,
    ) -> Result<Vec<PreviousSecret>, String> {
        let text = self.open(stored, &aad_str(ep, "previous_secrets"))?;
        let stored: Vec<Stored> = serde_json::from_str(&text)
            .map_err(|_| "previous_secrets is not a valid list".to_owned())?;
        stored
            .into_iter()
            .map(|s| {
                Ok(PreviousSecret {
                    secret: EndpointSecret::parse(&s.key)
                        .map_err(|_| "a previous secret is not a valid key".to_owned())?,
                    expires_at: Timestamp::from_millis(s.expires_at),
                })
            })
            .collect()
    }

    /// Both columns of a stored row sealed again under the main key (`None` without a
    /// keyring), for re-encryption.
    pub(crate) fn reseal(
        &self,
        ep: &str,
        secret: &str,
        previous: &str,
    ) -> Result<Option<(String, String)>, String> {
        let Some(keys) = self.0.as_deref() else {
            return Ok(None);
        };
        let secret = self.open(secret, &aad_str(ep, "secret"))?;
        let previous = self.open(previous, &aad_str(ep, "previous_secrets"))?;
        Ok(Some((
            keys.seal(secret.as_bytes(), &aad_str(ep, "secret")),
            keys.seal(previous.as_bytes(), &aad_str(ep, "previous_secrets")),
        )))
    }
}

impl SecretCodec {
    /// Any other secret text column (`table.column` of row `id`), sealed with associated
    /// data naming exactly that cell, so a value copied to another row or column will not
    /// open.
    pub(crate) fn seal_text(&self, column: &str, id: &str, plaintext: &str) -> String {
        self.seal(plaintext, &text_aad(column, id))
    }

    /// Reads a column written by [`Self::seal_text`] back (plaintext passes through).
    pub(crate) fn open_text(&self, column: &str, id: &str, stored: &str) -> Result<String, String> {
        self.open(stored, &text_aad(column, id))
    }

    /// A [`Self::seal_text`] cell sealed again under the main key (`None` without a
    /// keyring), for re-encryption.
    pub(crate) fn reseal_text(
        &self,
        column: &str,
        id: &str,
        stored: &str,
    ) -> Result<Option<String>, String> {
        let Some(keys) = self.0.as_deref() else {
            return Ok(None);
        };
        let text = self.open_text(column, id, stored)?;
        Ok(Some(keys.seal(text.as_bytes(), &text_aad(column, id))))
    }
}

fn text_aad(column: &str, id: &str) -> Vec<u8> {
    format!("hookd {column} {id}").into_bytes()
}

fn aad(ep: &EndpointId, column: &str) -> Vec<u8> {
    aad_str(ep.as_str(), column)
}

fn aad_str(ep: &str, column: &str) -> Vec<u8> {
    format!("hookd endpoints.{column} {ep}").into_bytes()
}

/// Why a store refuses to open with the keyring it was given.
pub(crate) fn wrong_key(found: &str, keys: Option<&Keyring>) -> anyhow::Error {
    match keys {
        Some(keys) => anyhow::anyhow!(
            "the database's endpoint secrets are encrypted with main key {found}, but this \
             node's main_key / previous_main_keys have ids {}: configure the key the database \
             was encrypted with (see docs/signing-and-secrets.md)",
            keys.ids().join(", ")
        ),
        None => anyhow::anyhow!(
            "the database's endpoint secrets are encrypted with main key {found}, but no main \
             key is configured"
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ring() -> Keyring {
        Keyring::new(MainKey::generate().0, Vec::new())
    }

    #[test]
    fn seals_with_a_fresh_nonce_and_opens_only_in_the_same_row_and_column() {
        let codec = SecretCodec::new(Some(ring()));
        let ep = EndpointId::generate();
        let secret = EndpointSecret::generate();
        let a = codec.seal_secret(&ep, &secret);
        let b = codec.seal_secret(&ep, &secret);
        assert_ne!(a, b, "random nonce per value");
        assert!(!a.contains(secret.expose()));
        assert_eq!(codec.open_secret(ep.as_str(), &a).unwrap(), secret);
        let other = EndpointId::generate();
        assert!(codec.open_secret(other.as_str(), &a).is_err());
        assert!(codec.open_previous(ep.as_str(), &a).is_err());
    }

    #[test]
    fn previous_keys_open_old_values_and_plaintext_still_reads() {
        let (old, old_b64) = MainKey::generate();
        let ep = EndpointId::generate();
        let secret = EndpointSecret::generate_ed25519();
        let sealed =
            SecretCodec::new(Some(Keyring::new(old, Vec::new()))).seal_secret(&ep, &secret);
        let old_again = MainKey::from_base64(&old_b64).unwrap();
        let rotated = SecretCodec::new(Some(Keyring::new(MainKey::generate().0, vec![old_again])));
        assert_eq!(rotated.open_secret(ep.as_str(), &sealed).unwrap(), secret);
        let plaintext = secret.expose();
        assert_eq!(rotated.open_secret(ep.as_str(), plaintext).unwrap(), secret);
        let err = SecretCodec::new(Some(ring()))
            .open_secret(ep.as_str(), &sealed)
            .unwrap_err();
        assert!(err.contains("not configured") && !err.contains(secret.expose()));
        assert!(SecretCodec::default()
            .open_secret(ep.as_str(), &sealed)
            .is_err());
    }

    #[test]
    fn main_keys_parse_only_32_bytes_and_hide_in_debug() {
        let (key, b64) = MainKey::generate();
        assert_eq!(MainKey::from_base64(&b64).unwrap().id(), key.id());
        assert_eq!(key.id().len(), KEY_ID_HEX);
        assert!(!format!("{key:?}").contains(&b64));
        assert_eq!(MainKey::from_base64("c2hvcnQ=").err(), Some(MainKeyError));
        assert_eq!(MainKey::from_base64("!!").err(), Some(MainKeyError));
    }
}
