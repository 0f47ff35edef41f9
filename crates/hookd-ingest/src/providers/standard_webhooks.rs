//! Standard Webhooks (and Svix, which uses `svix-*` header names): the request's headers
//! picked, then hookd's one Standard Webhooks verifier (`hookd_core::signing::verify`:
//! `v1` HMAC-SHA256 with `whsec_` keys, `v1a` ed25519 with `whpk_` keys, signature before
//! age) and its answers mapped to rejection codes.

use crate::{IncomingRequest, Rejection, Secret, Verified};
use hookd_core::signing::{self, SignatureEntry, VerifyError, VerifyingKey};

/// Parses a `webhook-signature` value (see [`signing::parse_signature_header`]).
pub fn parse_header(value: &str) -> Result<Vec<SignatureEntry>, Rejection> {
    signing::parse_signature_header(value).map_err(rejection)
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
    let timestamp = req.header(ts_h)?;
    let signature = req.header(sig_h)?;
    // A secret that cannot be decoded is skipped, so one bad entry does not block
    // rotation; only when no secret is usable is the config reported.
    let mut keys = Vec::with_capacity(secrets.len());
    let mut config_error = None;
    for secret in secrets {
        match key(secret) {
            Ok(key) => keys.push(key),
            Err(e) => config_error = Some(e),
        }
    }
    let timestamp = match signing::verify(&keys, id, timestamp, req.body, signature, now, tolerance)
    {
        Ok(timestamp) => timestamp,
        Err(VerifyError::NoMatch) if keys.is_empty() => {
            return Err(config_error.unwrap_or(Rejection::BadSignature))
        }
        Err(e) => return Err(rejection(e)),
    };
    Ok(Verified {
        event_type: None,
        event_id: Some(id.to_string()),
        timestamp: Some(timestamp),
    })
}

/// A source secret as a verifying key, or why it can verify nothing.
fn key(secret: &Secret) -> Result<VerifyingKey, Rejection> {
    VerifyingKey::parse(secret.expose()).map_err(|_| {
        Rejection::InvalidConfig(if secret.expose().starts_with(signing::PUBLIC_KEY_PREFIX) {
            "whpk_ key is not a base64 ed25519 public key"
        } else {
            "secret is not whsec_<base64>"
        })
    })
}

/// Why a secret can never verify a Standard Webhooks request, if it cannot.
pub(crate) fn secret_problem(secret: &Secret) -> Option<Rejection> {
    key(secret).err()
}

fn rejection(e: VerifyError) -> Rejection {
    match e {
        VerifyError::MalformedTimestamp => {
            Rejection::MalformedTimestamp("not an integer of Unix seconds")
        }
        VerifyError::MalformedHeader => {
            Rejection::MalformedSignature("no `version,base64` entry in the signature header")
        }
        VerifyError::NoMatch => Rejection::BadSignature,
        VerifyError::StaleTimestamp {
            timestamp,
            now,
            tolerance_secs,
        } => Rejection::StaleTimestamp {
            timestamp,
            now,
            tolerance_secs,
        },
    }
}
