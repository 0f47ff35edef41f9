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
        let secret = secret.expose();
        if let Some(b64) = secret.strip_prefix("whpk_") {
            match verify_v1a(b64, &content, &entries) {
                Ok(ok) => {
                    usable += 1;
                    matched |= ok;
                }
                Err(e) => config_error = Some(e),
            }
        } else if let Some(key) = from_base64(secret.strip_prefix("whsec_").unwrap_or(secret)) {
            usable += 1;
            let expected = hmac_sha256(&key, &[&content]);
            for entry in entries.iter().filter(|e| e.version == "v1") {
                matched |= ct_eq(&expected, &entry.signature);
            }
        } else {
            config_error = Some(Rejection::InvalidConfig("secret is not whsec_<base64>"));
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

fn verify_v1a(public_b64: &str, content: &[u8], entries: &[Entry]) -> Result<bool, Rejection> {
    let key = from_base64(public_b64)
        .and_then(|bytes| <[u8; 32]>::try_from(bytes.as_slice()).ok())
        .and_then(|bytes| ed25519_dalek::VerifyingKey::from_bytes(&bytes).ok())
        .ok_or(Rejection::InvalidConfig(
            "whpk_ key is not a base64 ed25519 public key",
        ))?;
    Ok(entries.iter().filter(|e| e.version == "v1a").any(|e| {
        ed25519_dalek::Signature::from_slice(&e.signature)
            .is_ok_and(|sig| key.verify_strict(content, &sig).is_ok())
    }))
}
