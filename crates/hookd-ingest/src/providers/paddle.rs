//! Paddle Billing: `Paddle-Signature: ts=<unix>;h1=<hex>[;h1=<hex>...]`, hex
//! HMAC-SHA256 over `{ts}:{body}`; the SDKs allow 5 s of variance. Event id: the body's
//! `event_id`.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

/// A parsed `Paddle-Signature` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PaddleHeader {
    /// `ts=` as sent (signed as text).
    pub timestamp_text: String,
    /// `ts=` as Unix seconds.
    pub timestamp: i64,
    /// Decoded `h1=` signatures; entries that are not hex are dropped.
    pub h1: Vec<Vec<u8>>,
}

/// Parses a `Paddle-Signature` value.
pub fn parse_header(value: &str) -> Result<PaddleHeader, Rejection> {
    let mut timestamp_text = None;
    let mut h1 = Vec::new();
    for item in value.split(';') {
        match item.trim().split_once('=') {
            Some(("ts", t)) => timestamp_text = Some(t),
            Some(("h1", sig)) => h1.extend(from_hex(sig)),
            _ => {}
        }
    }
    let timestamp_text =
        timestamp_text.ok_or(Rejection::MalformedSignature("no `ts=` timestamp"))?;
    let timestamp = timestamp_text
        .parse::<i64>()
        .map_err(|_| Rejection::MalformedTimestamp("`ts=` is not Unix seconds"))?;
    if h1.is_empty() {
        return Err(Rejection::MalformedSignature("no `h1=<hex>` signature"));
    }
    Ok(PaddleHeader {
        timestamp_text: timestamp_text.to_string(),
        timestamp,
        h1,
    })
}

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let header = parse_header(req.header("paddle-signature")?)?;
    any_matches(secrets, &header.h1, |key| {
        hmac_sha256(key, &[header.timestamp_text.as_bytes(), b":", req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_age(header.timestamp, now, tolerance)?;
    Ok(Verified {
        event_id: super::json_string_field(req.body, "event_id"),
        timestamp: Some(header.timestamp),
    })
}
