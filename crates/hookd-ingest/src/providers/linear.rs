//! Linear: `Linear-Signature: <hex HMAC-SHA256 of the body>`; the signed body's
//! `webhookTimestamp` (Unix milliseconds) must be within a minute. Event id: the
//! `Linear-Delivery` header.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let header = req.header("linear-signature")?;
    let sig = from_hex(header.trim()).ok_or(Rejection::MalformedSignature("expected hex"))?;
    any_matches(secrets, &[sig], |key| hmac_sha256(key, &[req.body]))
        .ok_or(Rejection::BadSignature)?;
    let millis = serde_json::from_slice::<serde_json::Value>(req.body)
        .ok()
        .and_then(|v| v.get("webhookTimestamp")?.as_i64())
        .ok_or(Rejection::MalformedBody(
            "no numeric `webhookTimestamp` in the JSON body",
        ))?;
    let age_ms = (now as i128 * 1000 - millis as i128).unsigned_abs();
    if age_ms > tolerance as u128 * 1000 {
        return Err(Rejection::StaleTimestamp {
            timestamp: millis.div_euclid(1000),
            now,
            tolerance_secs: tolerance,
        });
    }
    Ok(Verified {
        event_type: None,
        event_id: req.optional_header("linear-delivery").map(str::to_owned),
        timestamp: Some(millis.div_euclid(1000)),
    })
}
