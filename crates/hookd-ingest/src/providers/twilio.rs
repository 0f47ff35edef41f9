//! Twilio: `X-Twilio-Signature: <base64 HMAC-SHA1>` keyed by the auth token, over the
//! full URL followed, for form POSTs, by every parameter sorted by name (then value)
//! as name+value. JSON requests instead carry `bodySHA256=<hex SHA-256 of the body>` in
//! the signed URL's query and sign the URL alone. As Twilio's own validators do, the
//! URL is tried with its port removed and with the scheme's default port added.
//! Event id: `I-Twilio-Idempotency-Token`.

use crate::crypto::{any_matches, ct_eq, from_base64, hmac_sha1, sha256_hex};
use crate::{IncomingRequest, Rejection, Secret, Verified};

/// The URL forms Twilio may have signed: as given, without its port, and with the
/// scheme's default port (443/80) when it has none. `Err` when it has no `scheme://`.
pub fn url_variants(url: &str) -> Result<Vec<String>, Rejection> {
    let (scheme, rest) = url.split_once("://").ok_or(Rejection::MalformedUrl)?;
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    let host_start = authority.rfind('@').map_or(0, |at| at + 1);
    let (userinfo, hostport) = authority.split_at(host_start);
    if hostport.is_empty() {
        return Err(Rejection::MalformedUrl);
    }
    // A port follows the last ':' unless that colon is inside an IPv6 literal.
    let host = match hostport.rfind(':') {
        Some(colon) if !hostport[colon..].contains(']') => &hostport[..colon],
        _ => hostport,
    };
    let mut variants = vec![
        url.to_string(),
        format!("{scheme}://{userinfo}{host}{tail}"),
    ];
    if host == hostport {
        let port = match scheme.to_ascii_lowercase().as_str() {
            "https" => Some(443),
            "http" => Some(80),
            _ => None,
        };
        if let Some(port) = port {
            variants.push(format!("{scheme}://{userinfo}{host}:{port}{tail}"));
        }
    }
    variants.dedup();
    Ok(variants)
}

pub(crate) fn verify(secrets: &[Secret], req: &IncomingRequest<'_>) -> Result<Verified, Rejection> {
    let header = req.header("x-twilio-signature")?;
    let sig = from_base64(header.trim()).ok_or(Rejection::MalformedSignature("expected base64"))?;
    let variants = url_variants(req.url)?;
    let body_hash = query_param(req.url, "bodySHA256");

    let params = match (&body_hash, req.method.eq_ignore_ascii_case("POST")) {
        (None, true) => form_params(req)?,
        _ => Vec::new(),
    };
    let mut matched = false;
    for url in &variants {
        let mut signed = url.clone().into_bytes();
        for (name, value) in &params {
            signed.extend_from_slice(name.as_bytes());
            signed.extend_from_slice(value.as_bytes());
        }
        matched |= any_matches(secrets, std::slice::from_ref(&sig), |key| {
            hmac_sha1(key, &[&signed])
        })
        .is_some();
    }
    if !matched {
        return Err(Rejection::BadSignature);
    }
    if let Some(expected) = body_hash {
        if !ct_eq(
            sha256_hex(req.body).as_bytes(),
            expected.to_ascii_lowercase().as_bytes(),
        ) {
            return Err(Rejection::BodyHashMismatch);
        }
    }
    Ok(Verified {
        event_type: None,
        event_id: req
            .optional_header("i-twilio-idempotency-token")
            .map(str::to_owned),
        timestamp: None,
    })
}

/// Form parameters sorted by name then value, duplicates dropped (as twilio-python).
fn form_params(req: &IncomingRequest<'_>) -> Result<Vec<(String, String)>, Rejection> {
    let is_form = req.optional_header("content-type").is_none_or(|ct| {
        ct.trim()
            .to_ascii_lowercase()
            .starts_with("application/x-www-form-urlencoded")
    });
    if !is_form || std::str::from_utf8(req.body).is_err() {
        return Err(Rejection::BodyNotForm);
    }
    let mut params: Vec<(String, String)> = url::form_urlencoded::parse(req.body)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    params.sort();
    params.dedup();
    Ok(params)
}

fn query_param(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?')?.1;
    let query = query.split('#').next().unwrap_or(query);
    url::form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.into_owned())
}
