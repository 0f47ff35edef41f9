//! Stripe: `Stripe-Signature: t=<unix>,v1=<hex>,v1=<hex>...` (several `v1` while a
//! secret rolls), hex HMAC-SHA256 over `{t}.{body}` keyed by the `whsec_...` secret
//! used as-is (not decoded). Event id: the body's top-level `id`.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

/// A parsed `Stripe-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StripeHeader {
    /// The `t=` value as sent (it is signed as text).
    pub timestamp_text: String,
    /// `t=` as Unix seconds.
    pub timestamp: i64,
    /// Decoded `v1=` signatures; entries that are not hex are dropped.
    pub v1: Vec<Vec<u8>>,
}

/// Parses a `Stripe-Signature` value.
pub fn parse_header(value: &str) -> Result<StripeHeader, Rejection> {
    let mut timestamp_text = None;
    let mut v1 = Vec::new();
    for item in value.split(',') {
        match item.trim().split_once('=') {
            Some(("t", t)) => timestamp_text = Some(t),
            Some(("v1", sig)) => v1.extend(from_hex(sig)),
            _ => {}
        }
    }
    let timestamp_text =
        timestamp_text.ok_or(Rejection::MalformedSignature("no `t=` timestamp"))?;
    let timestamp = timestamp_text
        .parse::<i64>()
        .map_err(|_| Rejection::MalformedTimestamp("`t=` is not Unix seconds"))?;
    if v1.is_empty() {
        return Err(Rejection::MalformedSignature("no `v1=<hex>` signature"));
    }
    Ok(StripeHeader {
        timestamp_text: timestamp_text.to_string(),
        timestamp,
        v1,
    })
}

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let header = parse_header(req.header("stripe-signature")?)?;
    any_matches(secrets, &header.v1, |key| {
        hmac_sha256(key, &[header.timestamp_text.as_bytes(), b".", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_age(header.timestamp, now, tolerance)?;
    Ok(Verified {
        event_id: super::json_string_field(req.body, "id"),
        timestamp: Some(header.timestamp),
    })
}
