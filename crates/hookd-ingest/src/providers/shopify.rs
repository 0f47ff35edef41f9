//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`; the id is
//! `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`). No signed timestamp. Shopify's
//! "events" deliveries send the same headers without the `x-` prefix
//! (`Shopify-Hmac-Sha256`, `Shopify-Webhook-Id`, ...); both forms are read.

use crate::crypto::{any_matches, from_base64, hmac_sha256};
use crate::{IncomingRequest, Rejection, Secret, Verified};

/// The first of `names` the request carries.
fn first<'a>(req: &IncomingRequest<'a>, names: &[&str]) -> Option<&'a str> {
    names.iter().find_map(|n| req.optional_header(n))
}

pub(crate) fn verify(secrets: &[Secret], req: &IncomingRequest<'_>) -> Result<Verified, Rejection> {
    let header = match first(req, &["x-shopify-hmac-sha256", "shopify-hmac-sha256"]) {
        Some(h) => h,
        None => req.header("x-shopify-hmac-sha256")?,
    };
    let sig = from_base64(header.trim()).ok_or(Rejection::MalformedSignature("expected base64"))?;
    any_matches(secrets, &[sig], |key| hmac_sha256(key, &[req.body]))
        .ok_or(Rejection::BadSignature)?;
    let event_id = first(
        req,
        &[
            "x-shopify-webhook-id",
            "x-shopify-event-id",
            "shopify-webhook-id",
            "shopify-event-id",
        ],
    )
    .map(str::to_owned);
    Ok(Verified {
        event_type: None,
        event_id,
        timestamp: None,
    })
}
