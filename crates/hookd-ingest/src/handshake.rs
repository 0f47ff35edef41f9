//! Endpoint handshakes some providers require before (or while) they send events.
//! The caller verifies the request first ([`handshake`]); these functions only recognise
//! the handshake and build the answer. Nothing here is forwarded. The one exception is
//! [`probe`]: Slack's `ssl_check`, a request that carries nothing, is answered before
//! verification, as Slack's own Bolt frameworks do.

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
    // Every accepted request passes here: parse a body only when it can be a handshake.
    let mentions = |word: &[u8]| req.body.windows(word.len()).any(|w| w == word);
    match config.provider {
        Provider::Slack => {
            if !mentions(b"url_verification") {
                return None;
            }
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
            if !mentions(b"endpoint.url_validation") {
                return None;
            }
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

/// Recognises a provider's connectivity probe, answered without verification because it
/// carries nothing and changes nothing: Slack's `ssl_check=1` form POST, sent when a
/// slash command or interactivity URL is saved (Slack's Bolt frameworks answer it ahead
/// of their signature check). The answer is an empty `200`.
pub fn probe(config: &ProviderConfig, req: &IncomingRequest<'_>) -> Option<HandshakeResponse> {
    if config.provider != Provider::Slack || req.body.len() > 4096 {
        return None;
    }
    let is_check = url::form_urlencoded::parse(req.body).any(|(k, v)| k == "ssl_check" && v == "1");
    is_check.then(|| HandshakeResponse {
        status: 200,
        content_type: "text/plain; charset=utf-8",
        body: Vec::new(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    fn request<'a>(headers: &'a HeaderMap, body: &'a [u8]) -> IncomingRequest<'a> {
        IncomingRequest {
            method: "POST",
            url: "https://hooks.example.com/ingest/t",
            headers,
            body,
        }
    }

    #[test]
    fn only_a_slack_ssl_check_is_a_probe() {
        let headers = HeaderMap::new();
        let slack = ProviderConfig::new(Provider::Slack, ["s"]);
        let check = request(&headers, b"ssl_check=1&token=abc");
        assert_eq!(probe(&slack, &check).map(|a| a.status), Some(200));
        let command = request(&headers, b"command=%2Fweather&text=94070");
        assert!(probe(&slack, &command).is_none());
        let github = ProviderConfig::new(Provider::Github, ["s"]);
        assert!(probe(&github, &check).is_none());
    }
}
