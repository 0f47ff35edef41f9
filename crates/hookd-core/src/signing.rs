//! Standard Webhooks signing, symmetric and asymmetric:
//! - `whsec_…` secrets sign with `v1,<base64(HMAC-SHA256(key, "id.ts.body"))>`;
//! - `whsk_…` secret keys sign with `v1a,<base64(ed25519(seed, "id.ts.body"))>`, verified
//!   by receivers with the matching `whpk_…` public key.
//!
//! The key is the base64 part of the secret, decoded. Verification accepts a
//! space-separated list of signatures (several keys during rotation) and compares in
//! constant time.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use ed25519_dalek::{Signer, SigningKey};
use rand::RngCore;
use std::fmt;
use subtle::ConstantTimeEq;

/// Prefix of symmetric endpoint secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Prefix of ed25519 secret keys (`v1a` signing).
pub const SIGNING_KEY_PREFIX: &str = "whsk_";
/// Prefix of ed25519 public keys, what receivers of `v1a` signatures verify with.
pub const PUBLIC_KEY_PREFIX: &str = "whpk_";
/// Bytes of key material in a generated secret.
pub const GENERATED_KEY_BYTES: usize = 32;
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 75;
const SEED_BYTES: usize = ed25519_dalek::SECRET_KEY_LENGTH;
const KEYPAIR_BYTES: usize = ed25519_dalek::KEYPAIR_LENGTH;

/// An endpoint's signing key: the text its owner sees (`whsec_…` or `whsk_…`) and the
/// decoded key. Equality compares the text.
#[derive(Clone)]
pub struct EndpointSecret {
    text: String,
    key: Key,
}

#[derive(Clone)]
enum Key {
    /// The HMAC-SHA256 key of a `whsec_` secret.
    Hmac(Vec<u8>),
    /// The ed25519 key of a `whsk_` secret (boxed: it is large and rarely used).
    Ed25519(Box<SigningKey>),
}

/// Which Standard Webhooks scheme a secret signs with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyType {
    /// `whsec_`, `v1` HMAC-SHA256: the receiver holds the same secret.
    Hmac,
    /// `whsk_`, `v1a` ed25519: the receiver holds only the `whpk_` public key.
    Ed25519,
}

/// Why a supplied secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error(
        "secret must look like whsec_<base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes> \
         or whsk_<base64 of a 32-byte ed25519 seed or 64-byte seed and public key>"
    )]
    Malformed,
    #[error("the public half of the whsk_ key does not match its seed")]
    PublicKeyMismatch,
}

impl PartialEq for EndpointSecret {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

impl Eq for EndpointSecret {}

impl EndpointSecret {
    /// A fresh random `whsec_` secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        Self {
            text: format!("{SECRET_PREFIX}{}", B64.encode(&key)),
            key: Key::Hmac(key),
        }
    }

    /// A fresh random ed25519 key, written as `whsk_<base64 of seed and public key>` (the
    /// 64-byte form Svix uses).
    pub fn generate_ed25519() -> Self {
        let mut seed = [0u8; SEED_BYTES];
        rand::thread_rng().fill_bytes(&mut seed);
        let key = SigningKey::from_bytes(&seed);
        Self {
            text: format!("{SIGNING_KEY_PREFIX}{}", B64.encode(key.to_keypair_bytes())),
            key: Key::Ed25519(Box::new(key)),
        }
    }

    /// A fresh random secret of the given type.
    pub fn generate_of(kind: KeyType) -> Self {
        match kind {
            KeyType::Hmac => Self::generate(),
            KeyType::Ed25519 => Self::generate_ed25519(),
        }
    }

    /// Parses `whsec_<base64>` (the prefix is optional on input, as in Svix) or
    /// `whsk_<base64>` (prefix required) of a 32-byte seed or a 64-byte seed‖public key,
    /// whose public half must match the seed.
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        if let Some(b64) = s.strip_prefix(SIGNING_KEY_PREFIX) {
            return Self::parse_ed25519(b64);
        }
        let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        let key = B64.decode(b64).map_err(|_| SecretError::Malformed)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Self {
            text: format!("{SECRET_PREFIX}{b64}"),
            key: Key::Hmac(key),
        })
    }

    fn parse_ed25519(b64: &str) -> Result<Self, SecretError> {
        let bytes = B64.decode(b64).map_err(|_| SecretError::Malformed)?;
        let key = match bytes.len() {
            SEED_BYTES => {
                let seed: [u8; SEED_BYTES] = bytes.as_slice().try_into().expect("length checked");
                SigningKey::from_bytes(&seed)
            }
            KEYPAIR_BYTES => {
                let pair: [u8; KEYPAIR_BYTES] =
                    bytes.as_slice().try_into().expect("length checked");
                SigningKey::from_keypair_bytes(&pair).map_err(|_| SecretError::PublicKeyMismatch)?
            }
            _ => return Err(SecretError::Malformed),
        };
        Ok(Self {
            text: format!("{SIGNING_KEY_PREFIX}{b64}"),
            key: Key::Ed25519(Box::new(key)),
        })
    }

    /// The `whsec_…` or `whsk_…` text (never logged; shown to the endpoint's owner only
    /// for `whsec_`, whose receivers need the secret itself).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Which scheme this key signs with.
    pub fn key_type(&self) -> KeyType {
        match self.key {
            Key::Hmac(_) => KeyType::Hmac,
            Key::Ed25519(_) => KeyType::Ed25519,
        }
    }

    /// The `whpk_…` public key of an ed25519 key; `None` for `whsec_`.
    pub fn public_key(&self) -> Option<String> {
        match &self.key {
            Key::Hmac(_) => None,
            Key::Ed25519(k) => Some(format!(
                "{PUBLIC_KEY_PREFIX}{}",
                B64.encode(k.verifying_key().as_bytes())
            )),
        }
    }

    /// What a receiver verifies with: the `whsec_` secret itself, or the `whpk_` public
    /// key of a `whsk_` key.
    pub fn verification_key(&self) -> String {
        self.public_key().unwrap_or_else(|| self.text.clone())
    }

    /// Signs one delivery: returns `v1,<base64>` or `v1a,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
        match &self.key {
            Key::Hmac(key) => sign_v1(key, msg_id, timestamp_secs, body),
            Key::Ed25519(key) => {
                let signature = key.sign(&signed_content(msg_id, timestamp_secs, body));
                format!("v1a,{}", B64.encode(signature.to_bytes()))
            }
        }
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret(<redacted>)")
    }
}

/// `"{msg_id}.{timestamp}.{body}"`, what both schemes sign.
fn signed_content(msg_id: &str, timestamp_secs: i64, body: &[u8]) -> Vec<u8> {
    let ts = timestamp_secs.to_string();
    let mut content = Vec::with_capacity(msg_id.len() + ts.len() + body.len() + 2);
    content.extend_from_slice(msg_id.as_bytes());
    content.push(b'.');
    content.extend_from_slice(ts.as_bytes());
    content.push(b'.');
    content.extend_from_slice(body);
    content
}

/// `v1,<base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}"))>`.
pub fn sign_v1(key: &[u8], msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let ts = timestamp_secs.to_string();
    let parts: [&[u8]; 5] = [msg_id.as_bytes(), b".", ts.as_bytes(), b".", body];
    format!("v1,{}", B64.encode(crate::crypto::hmac_sha256(key, &parts)))
}

/// What verifies Standard Webhooks signatures: an HMAC-SHA256 key (from `whsec_<base64>`,
/// the prefix optional) for `v1` entries, or an ed25519 public key (`whpk_<base64>`) for
/// `v1a` entries.
#[derive(Clone)]
pub enum VerifyingKey {
    Hmac(Vec<u8>),
    Ed25519(ed25519_dalek::VerifyingKey),
}

impl fmt::Debug for VerifyingKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VerifyingKey::Hmac(_) => "VerifyingKey::Hmac(<redacted>)",
            VerifyingKey::Ed25519(_) => "VerifyingKey::Ed25519",
        })
    }
}

impl VerifyingKey {
    /// Parses a receiver's key. Any base64 HMAC key is taken, whatever its length (what
    /// another sender issued is not ours to judge); a `whpk_` key must be an ed25519 point.
    pub fn parse(text: &str) -> Result<Self, SecretError> {
        if let Some(b64) = text.strip_prefix(PUBLIC_KEY_PREFIX) {
            return B64
                .decode(b64)
                .ok()
                .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
                .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
                .map(VerifyingKey::Ed25519)
                .ok_or(SecretError::Malformed);
        }
        B64.decode(text.strip_prefix(SECRET_PREFIX).unwrap_or(text))
            .map(VerifyingKey::Hmac)
            .map_err(|_| SecretError::Malformed)
    }
}

impl EndpointSecret {
    /// What a receiver of this key's signatures verifies with.
    pub fn verifying_key(&self) -> VerifyingKey {
        match &self.key {
            Key::Hmac(key) => VerifyingKey::Hmac(key.clone()),
            Key::Ed25519(key) => VerifyingKey::Ed25519(key.verifying_key()),
        }
    }
}

/// Why a signed request did not verify.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
pub enum VerifyError {
    #[error("the timestamp is not an integer of Unix seconds")]
    MalformedTimestamp,
    #[error("no `version,base64` entry in the signature header")]
    MalformedHeader,
    #[error("no signature matched")]
    NoMatch,
    /// The signature matched, but the timestamp is further from `now` than allowed.
    #[error("timestamp {timestamp} is more than {tolerance_secs} s from now ({now})")]
    StaleTimestamp {
        timestamp: i64,
        now: i64,
        tolerance_secs: u64,
    },
}

/// One `version,signature` entry of a `webhook-signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureEntry {
    /// `v1` or `v1a` (others are kept and never match).
    pub version: String,
    /// The decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Parses a `webhook-signature` value: space-separated `version,base64` entries. Entries
/// of another shape are skipped; `MalformedHeader` when none is left.
pub fn parse_signature_header(value: &str) -> Result<Vec<SignatureEntry>, VerifyError> {
    let entries: Vec<SignatureEntry> = value
        .split_whitespace()
        .filter_map(|part| {
            let (version, sig) = part.split_once(',')?;
            Some(SignatureEntry {
                version: version.to_string(),
                signature: B64.decode(sig).ok()?,
            })
        })
        .collect();
    if entries.is_empty() {
        return Err(VerifyError::MalformedHeader);
    }
    Ok(entries)
}

/// The Standard Webhooks check, the one hookd has: the `webhook-signature` header must hold
/// a `v1` entry matching an HMAC key or a `v1a` entry matching an ed25519 key, over
/// `"{msg_id}.{timestamp}.{body}"` with the timestamp as sent; only then is the timestamp
/// checked to be at most `tolerance_secs` from `now_secs` (either way, inclusive), so a
/// stale answer always means an authentic request. Every key and entry is compared (in
/// constant time for HMAC), so timing does not tell which matched. Returns the timestamp.
pub fn verify(
    keys: &[VerifyingKey],
    msg_id: &str,
    timestamp: &str,
    body: &[u8],
    header: &str,
    now_secs: i64,
    tolerance_secs: u64,
) -> Result<i64, VerifyError> {
    let timestamp = timestamp.trim();
    let secs: i64 = timestamp
        .parse()
        .map_err(|_| VerifyError::MalformedTimestamp)?;
    let entries = parse_signature_header(header)?;
    let content = [msg_id.as_bytes(), b".", timestamp.as_bytes(), b".", body].concat();
    let mut matched = false;
    for key in keys {
        match key {
            VerifyingKey::Hmac(key) => {
                let expected = crate::crypto::hmac_sha256(key, &[&content]);
                for entry in entries.iter().filter(|e| e.version == "v1") {
                    matched |= bool::from(expected.as_slice().ct_eq(&entry.signature));
                }
            }
            VerifyingKey::Ed25519(key) => {
                for entry in entries.iter().filter(|e| e.version == "v1a") {
                    matched |= ed25519_dalek::Signature::from_slice(&entry.signature)
                        .is_ok_and(|sig| key.verify_strict(&content, &sig).is_ok());
                }
            }
        }
    }
    if !matched {
        return Err(VerifyError::NoMatch);
    }
    if now_secs.abs_diff(secs) > tolerance_secs {
        return Err(VerifyError::StaleTimestamp {
            timestamp: secs,
            now: now_secs,
            tolerance_secs,
        });
    }
    Ok(secs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_round_trips_through_parse() {
        let s = EndpointSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(EndpointSecret::parse(s.expose()).unwrap(), s);
        assert_eq!(s.key_type(), KeyType::Hmac);
        assert_eq!(s.verification_key(), s.expose());
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn rejects_malformed_secrets() {
        assert!(EndpointSecret::parse("whsec_!!!").is_err());
        assert!(EndpointSecret::parse("whsec_c2hvcnQ=").is_err());
        assert_eq!(
            EndpointSecret::parse("whsk_c2hvcnQ="),
            Err(SecretError::Malformed)
        );
        // A 64-byte key whose public half belongs to another seed.
        let a = EndpointSecret::generate_ed25519();
        let b = EndpointSecret::generate_ed25519();
        let seed_a = &B64.decode(&a.expose()[5..]).unwrap()[..32];
        let pk_b = &B64.decode(&b.expose()[5..]).unwrap()[32..];
        let mixed = format!("whsk_{}", B64.encode([seed_a, pk_b].concat()));
        assert_eq!(
            EndpointSecret::parse(&mixed),
            Err(SecretError::PublicKeyMismatch)
        );
    }

    /// The v1a vector of the project's shared signature vectors (RFC 8032 test 1 key).
    #[test]
    fn v1a_matches_the_published_vector_in_both_key_forms() {
        let seed = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";
        let pair = "whsk_nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2DXWpgBgrEKt9VL/tPJZAc6DuFy89qmIyWvAhpo9wdRGg==";
        let expected = "v1a,fldxM4gAKugP6nnt1hdz3sgGfZ6d99nzrMFnZOELIxbzEHoVmAb2ADpkJK7zgPePmPsle0zV9jSeGlHFG2NVAw==";
        for text in [seed, pair] {
            let k = EndpointSecret::parse(text).unwrap();
            assert_eq!(
                k.public_key().unwrap(),
                "whpk_11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo="
            );
            let body = br#"{"test": 2432232314}"#;
            assert_eq!(
                k.sign("msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body),
                expected
            );
        }
    }

    #[test]
    fn ed25519_keys_accept_seed_or_keypair_and_sign_v1a() {
        let k = EndpointSecret::generate_ed25519();
        assert_eq!(k.key_type(), KeyType::Ed25519);
        assert!(k.expose().starts_with("whsk_"));
        assert!(!format!("{k:?}").contains(k.expose()));
        let public = k.public_key().unwrap();
        assert_eq!(k.verification_key(), public);
        let seed_only = format!(
            "whsk_{}",
            B64.encode(&B64.decode(&k.expose()[5..]).unwrap()[..32])
        );
        let from_seed = EndpointSecret::parse(&seed_only).unwrap();
        assert_eq!(from_seed.public_key().unwrap(), public);
        let sig = k.sign("msg_1", 1000, b"{}");
        assert!(sig.starts_with("v1a,"));
        assert_eq!(
            from_seed.sign("msg_1", 1000, b"{}"),
            sig,
            "ed25519 is deterministic"
        );
        let header = format!("v1,bm9wZQ== {sig}");
        let keys = [VerifyingKey::parse(&public).unwrap()];
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{}", &header, 1000, 300),
            Ok(1000)
        );
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{ }", &header, 1000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(
                &[k.verifying_key()],
                "msg_1",
                "1000",
                b"{}",
                &header,
                1000,
                300
            ),
            Ok(1000)
        );
    }

    #[test]
    fn verify_accepts_rotation_lists_and_rejects_tampering() {
        let s = EndpointSecret::generate();
        let sig = s.sign("msg_1", 1000, b"{}");
        let header = format!("v1,bm9wZQ== {sig}");
        let keys = [s.verifying_key()];
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{}", &header, 1000, 300),
            Ok(1000)
        );
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{ }", &header, 1000, 300),
            Err(VerifyError::NoMatch)
        );
        // Signature first, then age: a stale authentic request says so.
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{}", &header, 2000, 300),
            Err(VerifyError::StaleTimestamp {
                timestamp: 1000,
                now: 2000,
                tolerance_secs: 300
            })
        );
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{ }", &header, 2000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify(&keys, "msg_1", "x", b"{}", &header, 1000, 300),
            Err(VerifyError::MalformedTimestamp)
        );
        assert_eq!(
            verify(&keys, "msg_1", "1000", b"{}", "nope", 1000, 300),
            Err(VerifyError::MalformedHeader)
        );
    }
}
