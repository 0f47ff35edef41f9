//! GitLab: `X-Gitlab-Token` equal to the secret (compared in constant time, lengths
//! hidden), or, when GitLab signs (`webhook-signature` present), Standard Webhooks.
//! Event id: `Idempotency-Key` (stable across retries), else `X-Gitlab-Event-UUID`.

use crate::crypto::ct_eq_token;
use crate::{IncomingRequest, Rejection, Secret, Verified};

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    if req.headers.contains_key("webhook-signature") {
        return super::standard_webhooks::verify(secrets, req, now, tolerance);
    }
    let token = req.header("x-gitlab-token")?;
    let mut matched = false;
    for secret in secrets {
        matched |= ct_eq_token(token.as_bytes(), secret.expose().as_bytes());
    }
    if !matched {
        return Err(Rejection::BadSignature);
    }
    let event_id = req
        .optional_header("idempotency-key")
        .or_else(|| req.optional_header("x-gitlab-event-uuid"))
        .map(str::to_owned);
    Ok(Verified {
        event_type: None,
        event_id,
        timestamp: None,
    })
}
