//! Shopify: `X-Shopify-Hmac-Sha256: <base64 HMAC-SHA256 of the body>`; the id is
//! `X-Shopify-Webhook-Id` (else `X-Shopify-Event-Id`). No signed timestamp.

use crate::crypto::{any_matches, from_base64, hmac_sha256};
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(secrets: &[Secret], req: &IncomingRequest<'_>) -> Result<Verified, Rejection> {
    let header = req.header("x-shopify-hmac-sha256")?;
    let sig = from_base64(header.trim()).ok_or(Rejection::MalformedSignature("expected base64"))?;
    any_matches(secrets, &[sig], |key| hmac_sha256(key, &[req.body]))
        .ok_or(Rejection::BadSignature)?;
    let event_id = req
        .optional_header("x-shopify-webhook-id")
        .or_else(|| req.optional_header("x-shopify-event-id"))
        .map(str::to_owned);
    Ok(Verified {
        event_id,
        timestamp: None,
    })
}
