//! Slack: `X-Slack-Signature: v0=<hex HMAC-SHA256>` over
//! `v0:{X-Slack-Request-Timestamp}:{body}`, five minutes' tolerance. Event id: the
//! Events API body's `event_id` (slash commands and interactions carry none).

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let signature = req.header("x-slack-signature")?;
    let ts_text = req.header("x-slack-request-timestamp")?;
    let sig = signature
        .strip_prefix("v0=")
        .and_then(from_hex)
        .ok_or(Rejection::MalformedSignature("expected `v0=<hex>`"))?;
    let timestamp = super::parse_unix(ts_text)?;
    any_matches(secrets, &[sig], |key| {
        hmac_sha256(key, &[b"v0:", ts_text.as_bytes(), b":", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_age(timestamp, now, tolerance)?;
    Ok(Verified {
        event_type: None,
        // The id is in the body: read with the event type (`event_type.rs`).
        event_id: None,
        timestamp: Some(timestamp),
    })
}
