//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]`, hex
//! HMAC-SHA256 over `{ts}:{body}`. Event id: the body's `event_id`.
//!
//! Age: Paddle's official SDKs (Node, Python, PHP) refuse a signature only when
//! `now > ts + 5 s` and never look at how far `ts` is ahead of them, so a receiver whose
//! clock runs behind Paddle's keeps working. hookd checks the same: at most the tolerance
//! (default 5 s) old, and, as its own bound rather than Paddle's, at most
//! [`FUTURE_SKEW_SECS`] ahead, so a request dated far ahead cannot be replayed until
//! then. See docs/ingest-verification.md.

use super::timestamped::{self, HeaderFormat, TimestampedSignatures};
use crate::crypto::{any_matches, hmac_sha256};
use crate::{IncomingRequest, Rejection, Secret, Verified};

const FORMAT: HeaderFormat = HeaderFormat {
    separator: ';',
    timestamp_key: "ts",
    signature_key: "h1",
    no_timestamp: "no `ts=` timestamp",
    bad_timestamp: "`ts=` is not Unix seconds",
    no_signature: "no `h1=<hex>` signature",
};

/// How far ahead of hookd's clock a Paddle timestamp may be: the clock skew every other
/// timestamped scheme here tolerates.
pub(crate) const FUTURE_SKEW_SECS: u64 = 300;

/// Parses a `Paddle-Signature` value.
pub fn parse_header(value: &str) -> Result<TimestampedSignatures, Rejection> {
    timestamped::parse(value, &FORMAT)
}

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let header = parse_header(req.header("paddle-signature")?)?;
    any_matches(secrets, &header.signatures, |key| {
        hmac_sha256(key, &[header.timestamp_text.as_bytes(), b":", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_paddle_age(header.timestamp, now, tolerance)?;
    Ok(Verified {
        event_type: None,
        // The id is in the body: read with the event type (`event_type.rs`).
        event_id: None,
        timestamp: Some(header.timestamp),
    })
}

/// `Ok` when `timestamp` is at most `tolerance` seconds old and at most
/// [`FUTURE_SKEW_SECS`] ahead of `now`.
fn check_paddle_age(timestamp: i64, now: i64, tolerance: u64) -> Result<(), Rejection> {
    let (ok, allowed) = if timestamp <= now {
        (now.abs_diff(timestamp) <= tolerance, tolerance)
    } else {
        (
            timestamp.abs_diff(now) <= FUTURE_SKEW_SECS,
            FUTURE_SKEW_SECS,
        )
    };
    if ok {
        Ok(())
    } else {
        Err(Rejection::StaleTimestamp {
            timestamp,
            now,
            tolerance_secs: allowed,
        })
    }
}
