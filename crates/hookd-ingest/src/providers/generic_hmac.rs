//! A configurable HMAC scheme: algorithm, signature header, encoding, optional prefix,
//! and a signed-content template over `{body}` and `{timestamp}`.

use crate::config::{Encoding, GenericHmacConfig, HmacAlgorithm};
use crate::crypto::{any_matches, from_base64, from_hex, hmac_sha1, hmac_sha256, hmac_sha512};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(
    config: &GenericHmacConfig,
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: Option<u64>,
) -> Result<Verified, Rejection> {
    let header = req
        .optional_header(&config.header)
        .ok_or_else(|| Rejection::MissingHeader(config.header.clone()))?;
    let encoded = match &config.prefix {
        Some(prefix) => {
            header
                .strip_prefix(prefix.as_str())
                .ok_or(Rejection::MalformedSignature(
                    "the configured prefix is absent",
                ))?
        }
        None => header,
    };
    let sig = match config.encoding {
        Encoding::Hex => from_hex(encoded.trim()),
        Encoding::Base64 => from_base64(encoded.trim()),
    }
    .ok_or(Rejection::MalformedSignature(
        "not in the configured encoding",
    ))?;

    let needs_timestamp = config.template.contains("{timestamp}");
    let ts_text = match &config.timestamp_header {
        Some(name) => Some(
            req.optional_header(name)
                .ok_or_else(|| Rejection::MissingHeader(name.clone()))?,
        ),
        None if needs_timestamp => {
            return Err(Rejection::InvalidConfig(
                "template uses {timestamp} but no timestamp_header is set",
            ))
        }
        None => None,
    };
    let timestamp = ts_text.map(super::parse_unix).transpose()?;
    let content = render(&config.template, ts_text.unwrap_or(""), req.body);
    let mac = |key: &[u8]| match config.algorithm {
        HmacAlgorithm::Sha1 => hmac_sha1(key, &[&content]),
        HmacAlgorithm::Sha256 => hmac_sha256(key, &[&content]),
        HmacAlgorithm::Sha512 => hmac_sha512(key, &[&content]),
    };
    any_matches(secrets, &[sig], mac).ok_or(Rejection::BadSignature)?;
    if let (Some(ts), Some(tolerance)) = (timestamp, tolerance) {
        check_age(ts, now, tolerance)?;
    }
    let event_id = config
        .id_header
        .as_deref()
        .and_then(|name| req.optional_header(name))
        .map(str::to_owned);
    Ok(Verified {
        event_type: None,
        event_id,
        timestamp,
    })
}

/// Replaces `{body}` and `{timestamp}` in one left-to-right pass, so a body containing
/// the text `{timestamp}` is never rewritten.
fn render(template: &str, timestamp: &str, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(template.len() + body.len());
    let mut rest = template;
    while let Some(start) = rest.find('{') {
        out.extend_from_slice(&rest.as_bytes()[..start]);
        let tail = &rest[start..];
        if let Some(after) = tail.strip_prefix("{body}") {
            out.extend_from_slice(body);
            rest = after;
        } else if let Some(after) = tail.strip_prefix("{timestamp}") {
            out.extend_from_slice(timestamp.as_bytes());
            rest = after;
        } else {
            out.push(b'{');
            rest = &tail[1..];
        }
    }
    out.extend_from_slice(rest.as_bytes());
    out
}
