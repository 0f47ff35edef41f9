//! Endpoint handshakes some providers require before (or while) they send events.
//! The caller verifies the request first; these functions only recognise the handshake
//! and build the answer. Nothing here is forwarded.

use crate::crypto::{hmac_sha256, to_hex};
use crate::{IncomingRequest, Provider, ProviderConfig};
use serde_json::Value;

/// The answer to send instead of the normal acknowledgement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeResponse {
    /// HTTP status.
    pub status: u16,
    /// `Content-Type` of `body`.
    pub content_type: &'static str,
    /// Response body.
    pub body: Vec<u8>,
}

/// Recognises a handshake in an already verified request:
/// - Slack `url_verification`: answer the `challenge` as text;
/// - Twitch `webhook_callback_verification` (message-type header): the `challenge`
///   as `text/plain`;
/// - Zoom `endpoint.url_validation`: `{plainToken, encryptedToken}` where
///   `encryptedToken` is hex HMAC-SHA256 of `plainToken` keyed by the secret that
///   signed the request.
pub fn handshake(config: &ProviderConfig, req: &IncomingRequest<'_>) -> Option<HandshakeResponse> {
    let text = |s: &str| HandshakeResponse {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: s.as_bytes().to_vec(),
    };
    match config.provider {
        Provider::Slack => {
            let body: Value = serde_json::from_slice(req.body).ok()?;
            (body.get("type")?.as_str()? == "url_verification")
                .then(|| body.get("challenge")?.as_str().map(text))?
        }
        Provider::Twitch => {
            let kind = req.optional_header("twitch-eventsub-message-type")?;
            if kind != "webhook_callback_verification" {
                return None;
            }
            let body: Value = serde_json::from_slice(req.body).ok()?;
            body.get("challenge")?.as_str().map(text)
        }
        Provider::Zoom => {
            let body: Value = serde_json::from_slice(req.body).ok()?;
            if body.get("event")?.as_str()? != "endpoint.url_validation" {
                return None;
            }
            let plain = body.get("payload")?.get("plainToken")?.as_str()?;
            let secret = crate::providers::zoom::matching_secret(&config.secrets, req)
                .map(|(s, _)| s)
                .ok()
                .or(config.secrets.first())?;
            let encrypted = to_hex(&hmac_sha256(
                secret.expose().as_bytes(),
                &[plain.as_bytes()],
            ));
            let body = serde_json::json!({ "plainToken": plain, "encryptedToken": encrypted });
            Some(HandshakeResponse {
                status: 200,
                content_type: "application/json",
                body: body.to_string().into_bytes(),
            })
        }
        _ => None,
    }
}
