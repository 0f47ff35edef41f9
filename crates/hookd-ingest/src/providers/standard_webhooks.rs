//! Standard Webhooks (and Svix, which uses `svix-*` header names): `webhook-signature`
//! holds space-separated `v1,<base64 HMAC-SHA256>` (or `v1a,<base64 ed25519>`) entries
//! over `{id}.{timestamp}.{body}`; the key is the base64 after `whsec_` (or an ed25519
//! public key `whpk_...` for `v1a`).

use crate::crypto::{ct_eq, from_base64, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

/// One `version,signature` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// `v1` or `v1a` (others are kept and never match).
    pub version: String,
    /// Decoded signature bytes.
    pub signature: Vec<u8>,
}

/// Parses a `webhook-signature` value. Entries that are not `version,base64` are
/// skipped; `Err` when none is usable.
pub fn parse_header(value: &str) -> Result<Vec<Entry>, Rejection> {
    let entries: Vec<Entry> = value
        .split_whitespace()
        .filter_map(|part| {
            let (version, sig) = part.split_once(',')?;
            Some(Entry {
                version: version.to_string(),
                signature: from_base64(sig)?,
            })
        })
        .collect();
    if entries.is_empty() {
        return Err(Rejection::MalformedSignature(
            "no `version,base64` entry in the signature header",
        ));
    }
    Ok(entries)
}

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let (id_h, ts_h, sig_h) = if req.headers.contains_key("webhook-signature")
        || !req.headers.contains_key("svix-signature")
    {
        ("webhook-id", "webhook-timestamp", "webhook-signature")
    } else {
        ("svix-id", "svix-timestamp", "svix-signature")
    };
    let id = req.header(id_h)?;
    let ts_text = req.header(ts_h)?;
    let signature = req.header(sig_h)?;
    let timestamp = super::parse_unix(ts_text)?;
    let entries = parse_header(signature)?;
    let content = [
        id.as_bytes(),
        b".",
        ts_text.trim().as_bytes(),
        b".",
        req.body,
    ]
    .concat();

    // A secret that cannot be decoded is skipped, so one bad entry does not block
    // rotation; only when no secret is usable is the config reported.
    let mut matched = false;
    let mut config_error = None;
    let mut usable = 0;
    for secret in secrets {
        match key(secret.expose()) {
            Ok(Key::Hmac(key)) => {
                usable += 1;
                let expected = hmac_sha256(&key, &[&content]);
                for entry in entries.iter().filter(|e| e.version == "v1") {
                    matched |= ct_eq(&expected, &entry.signature);
                }
            }
            Ok(Key::Ed25519(key)) => {
                usable += 1;
                matched |= entries.iter().filter(|e| e.version == "v1a").any(|e| {
                    ed25519_dalek::Signature::from_slice(&e.signature)
                        .is_ok_and(|sig| key.verify_strict(&content, &sig).is_ok())
                });
            }
            Err(e) => config_error = Some(e),
        }
    }
    if !matched {
        return Err(match config_error {
            Some(e) if usable == 0 => e,
            _ => Rejection::BadSignature,
        });
    }
    check_age(timestamp, now, tolerance)?;
    Ok(Verified {
        event_type: None,
        event_id: Some(id.to_string()),
        timestamp: Some(timestamp),
    })
}

/// What a secret verifies with.
enum Key {
    /// `whsec_<base64>` (or bare base64): HMAC-SHA256 key bytes, for `v1`.
    Hmac(Vec<u8>),
    /// `whpk_<base64>`: an ed25519 public key, for `v1a`.
    Ed25519(ed25519_dalek::VerifyingKey),
}

/// Decodes a secret, or says why it can verify nothing.
fn key(secret: &str) -> Result<Key, Rejection> {
    if let Some(b64) = secret.strip_prefix("whpk_") {
        return from_base64(b64)
            .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
            .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
            .map(Key::Ed25519)
            .ok_or(Rejection::InvalidConfig(
                "whpk_ key is not a base64 ed25519 public key",
            ));
    }
    from_base64(secret.strip_prefix("whsec_").unwrap_or(secret))
        .map(Key::Hmac)
        .ok_or(Rejection::InvalidConfig("secret is not whsec_<base64>"))
}

/// Why a secret can never verify a Standard Webhooks request, if it cannot.
pub(crate) fn secret_problem(secret: &Secret) -> Option<Rejection> {
    key(secret.expose()).err()
}
