//! GitHub: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the body>`; the delivery id
//! is `X-GitHub-Delivery`. GitHub signs no timestamp.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(secrets: &[Secret], req: &IncomingRequest<'_>) -> Result<Verified, Rejection> {
    let header = req.header("x-hub-signature-256")?;
    let sig = header
        .strip_prefix("sha256=")
        .and_then(from_hex)
        .ok_or(Rejection::MalformedSignature("expected `sha256=<hex>`"))?;
    any_matches(secrets, &[sig], |key| hmac_sha256(key, &[req.body]))
        .ok_or(Rejection::BadSignature)?;
    Ok(Verified {
        event_type: None,
        event_id: req.optional_header("x-github-delivery").map(str::to_owned),
        timestamp: None,
    })
}
