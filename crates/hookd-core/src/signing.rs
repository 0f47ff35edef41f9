//! Standard Webhooks signing: `webhook-signature: v1,<base64(HMAC-SHA256(key, "id.ts.body"))>`.
//!
//! The key is the base64 part of a `whsec_…` secret, decoded. Verification accepts a
//! space-separated list of signatures (several keys during rotation) and compares in
//! constant time.

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;
use std::fmt;
use subtle::ConstantTimeEq;

type HmacSha256 = Hmac<Sha256>;

/// Prefix of symmetric endpoint secrets.
pub const SECRET_PREFIX: &str = "whsec_";
/// Bytes of key material in a generated secret.
pub const GENERATED_KEY_BYTES: usize = 32;
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 75;

/// A symmetric endpoint secret: the `whsec_…` text and its decoded key.
#[derive(Clone, PartialEq, Eq)]
pub struct EndpointSecret {
    text: String,
    key: Vec<u8>,
}

/// Why a supplied secret was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SecretError {
    #[error("secret must look like whsec_<base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes>")]
    Malformed,
}

impl EndpointSecret {
    /// A fresh random secret.
    pub fn generate() -> Self {
        let mut key = vec![0u8; GENERATED_KEY_BYTES];
        rand::thread_rng().fill_bytes(&mut key);
        Self {
            text: format!("{SECRET_PREFIX}{}", B64.encode(&key)),
            key,
        }
    }

    /// Parses `whsec_<base64>` (the prefix is optional on input, as in Svix).
    pub fn parse(s: &str) -> Result<Self, SecretError> {
        let b64 = s.strip_prefix(SECRET_PREFIX).unwrap_or(s);
        let key = B64.decode(b64).map_err(|_| SecretError::Malformed)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Self {
            text: format!("{SECRET_PREFIX}{b64}"),
            key,
        })
    }

    /// The `whsec_…` text shown to the endpoint's owner.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The HMAC key bytes.
    pub fn key(&self) -> &[u8] {
        &self.key
    }

    /// Signs one delivery: returns `v1,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
        sign_v1(&self.key, msg_id, timestamp_secs, body)
    }
}

impl fmt::Debug for EndpointSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EndpointSecret(<redacted>)")
    }
}

/// `v1,<base64(HMAC-SHA256(key, "{msg_id}.{timestamp}.{body}"))>`.
pub fn sign_v1(key: &[u8], msg_id: &str, timestamp_secs: i64, body: &[u8]) -> String {
    let mut mac = HmacSha256::new_from_slice(key).expect("HMAC accepts any key length");
    mac.update(msg_id.as_bytes());
    mac.update(b".");
    mac.update(timestamp_secs.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!("v1,{}", B64.encode(mac.finalize().into_bytes()))
}

/// Why a signature did not verify.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum VerifyError {
    #[error("timestamp is outside the tolerance")]
    StaleTimestamp,
    #[error("no signature matched")]
    NoMatch,
}

/// Verifies a `webhook-signature` header (space-separated `v1,…` entries) for a delivery,
/// given the receiver's clock and a tolerance in seconds.
pub fn verify_v1(
    secret: &EndpointSecret,
    msg_id: &str,
    timestamp_secs: i64,
    body: &[u8],
    header: &str,
    now_secs: i64,
    tolerance_secs: i64,
) -> Result<(), VerifyError> {
    if (now_secs - timestamp_secs).abs() > tolerance_secs {
        return Err(VerifyError::StaleTimestamp);
    }
    let expected = secret.sign(msg_id, timestamp_secs, body);
    let matched = header
        .split_whitespace()
        .any(|candidate| bool::from(candidate.as_bytes().ct_eq(expected.as_bytes())));
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatch)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generated_secret_round_trips_through_parse() {
        let s = EndpointSecret::generate();
        assert!(s.expose().starts_with("whsec_"));
        assert_eq!(EndpointSecret::parse(s.expose()).unwrap(), s);
        assert_eq!(s.key().len(), GENERATED_KEY_BYTES);
        assert!(!format!("{s:?}").contains(s.expose()));
    }

    #[test]
    fn rejects_malformed_secrets() {
        assert!(EndpointSecret::parse("whsec_!!!").is_err());
        assert!(EndpointSecret::parse("whsec_c2hvcnQ=").is_err());
    }

    #[test]
    fn verify_accepts_rotation_lists_and_rejects_tampering() {
        let s = EndpointSecret::generate();
        let sig = s.sign("msg_1", 1000, b"{}");
        let header = format!("v1,bm9wZQ== {sig}");
        assert_eq!(
            verify_v1(&s, "msg_1", 1000, b"{}", &header, 1000, 300),
            Ok(())
        );
        assert_eq!(
            verify_v1(&s, "msg_1", 1000, b"{ }", &header, 1000, 300),
            Err(VerifyError::NoMatch)
        );
        assert_eq!(
            verify_v1(&s, "msg_1", 1000, b"{}", &header, 2000, 300),
            Err(VerifyError::StaleTimestamp)
        );
    }
}
