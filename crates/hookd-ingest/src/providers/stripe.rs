//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>,v1=<hex>...` (several `v1` while a
//! secret rolls), hex HMAC-SHA256 over `{t}.{body}` keyed by the `whsec_...` secret
//! used as-is (not decoded). Event id: the body's top-level `id`.

use super::timestamped::{self, HeaderFormat, TimestampedSignatures};
use crate::crypto::{any_matches, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

const FORMAT: HeaderFormat = HeaderFormat {
    separator: ',',
    timestamp_key: "t",
    signature_key: "v1",
    no_timestamp: "no `t=` timestamp",
    bad_timestamp: "`t=` is not Unix seconds",
    no_signature: "no `v1=<hex>` signature",
};

/// Parses a `Stripe-Signature` value (`v0` and unknown keys are ignored).
pub fn parse_header(value: &str) -> Result<TimestampedSignatures, Rejection> {
    timestamped::parse(value, &FORMAT)
}

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let header = parse_header(req.header("stripe-signature")?)?;
    any_matches(secrets, &header.signatures, |key| {
        hmac_sha256(key, &[header.timestamp_text.as_bytes(), b".", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_age(header.timestamp, now, tolerance)?;
    Ok(Verified {
        event_type: None,
        // The id is in the body: read with the event type (`event_type.rs`).
        event_id: None,
        timestamp: Some(header.timestamp),
    })
}
