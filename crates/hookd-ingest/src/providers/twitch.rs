//! Twitch EventSub: `Twitch-Eventsub-Message-Signature: sha256=<hex HMAC-SHA256>` over
//! message id + timestamp + body; the RFC 3339 timestamp must be under 10 minutes old.
//! Event id: `Twitch-Eventsub-Message-Id`.

use crate::crypto::{any_matches, from_hex, hmac_sha256};
use crate::rejection::check_age;
use crate::{IncomingRequest, Rejection, Secret, Verified};
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

pub(crate) fn verify(
    secrets: &[Secret],
    req: &IncomingRequest<'_>,
    now: i64,
    tolerance: u64,
) -> Result<Verified, Rejection> {
    let id = req.header("twitch-eventsub-message-id")?;
    let ts_text = req.header("twitch-eventsub-message-timestamp")?;
    let signature = req.header("twitch-eventsub-message-signature")?;
    let sig = signature
        .strip_prefix("sha256=")
        .and_then(from_hex)
        .ok_or(Rejection::MalformedSignature("expected `sha256=<hex>`"))?;
    let timestamp = OffsetDateTime::parse(ts_text, &Rfc3339)
        .map_err(|_| Rejection::MalformedTimestamp("not an RFC 3339 date-time"))?
        .unix_timestamp();
    any_matches(secrets, &[sig], |key| {
        hmac_sha256(key, &[id.as_bytes(), ts_text.as_bytes(), req.body])
    })
    .ok_or(Rejection::BadSignature)?;
    check_age(timestamp, now, tolerance)?;
    Ok(Verified {
        event_type: None,
        event_id: Some(id.to_string()),
        timestamp: Some(timestamp),
    })
}
