//! Zoom: `x-zm-signature: v0=<hex HMAC-SHA256>` over `v0:{x-zm-request-timestamp}:{body}`
//! keyed by the app's secret token. Zoom sends no event id that survives retries.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    matching_secret(secrets, req).and_then(|(_, timestamp)| {
        check_age(timestamp, now, tolerance)?;
        Ok(Verified {
            event_type: None,
            event_id: None,
            timestamp: Some(timestamp),
        })
    })
}

/// The secret that signed `req`, and the signed timestamp (the handshake needs both).
pub(crate) fn matching_secret<'s>(
    secrets: &'s [Secret],
    req: &IncomingRequest<'_>,
) -> Result<(&'s Secret, i64), Rejection> {
    let signature = req.header("x-zm-signature")?;
    let ts_text = req.header("x-zm-request-timestamp")?;
    let sig = signature
        .strip_prefix("v0=")
        .and_then(from_hex)
        .ok_or(Rejection::MalformedSignature("expected `v0=<hex>`"))?;
    let timestamp = super::parse_unix(ts_text)?;
    let secret = any_matches(secrets, &[sig], |key| {
        hmac_sha256(key, &[b"v0:", ts_text.as_bytes(), b":", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    Ok((secret, timestamp))
}
