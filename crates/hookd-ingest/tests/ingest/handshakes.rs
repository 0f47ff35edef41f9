//! Slack, Twitch and Zoom handshakes are recognised in verified requests and answered
//! as each provider documents; ordinary events get no handshake. Every request goes
//! through the gateway's one entry point, `hookd_ingest::receive`.

use crate::common::*;
use hookd_ingest::{HandshakeResponse, IncomingRequest, Provider, ProviderConfig, Received};

/// The answer `receive` gives a request it takes as a handshake; `None` for an event.
fn handshake(cfg: &ProviderConfig, req: &IncomingRequest<'_>) -> Option<HandshakeResponse> {
    match hookd_ingest::receive(cfg, req, NOW) {
        Received::Answer(answer) => Some(answer),
        Received::Event(_) => None,
        Received::Refused(rejection) => panic!("refused: {rejection:?}"),
    }
}

#[test]
fn slack_url_verification_answers_the_challenge() {
    let body = br#"{"token":"x","challenge":"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P","type":"url_verification"}"#;
    let req = sign(Provider::Slack, "slack-secret", body, NOW);
    let cfg = ProviderConfig::new(Provider::Slack, ["slack-secret"]);
    assert!(verify(&cfg, &req, NOW).is_ok());
    let answer = handshake(&cfg, &req.get()).expect("a handshake");
    assert_eq!(answer.status, 200);
    assert_eq!(
        answer.body,
        b"3eZbrw1aBm2rZgRNFdxV2595E9CY3gmdALWMmHkvFXO7tYXAYM8P"
    );
    let event = sign(
        Provider::Slack,
        "slack-secret",
        br#"{"type":"event_callback","event_id":"Ev1"}"#,
        NOW,
    );
    assert_eq!(handshake(&cfg, &event.get()), None);
}

#[test]
fn twitch_callback_verification_answers_the_challenge_as_text() {
    let body = br#"{"challenge":"pogchamp-kappa-360noscope-vohiyo","subscription":{"type":"channel.follow"}}"#;
    let mut req = sign(Provider::Twitch, "twitch-secret", body, NOW);
    req.set(
        "twitch-eventsub-message-type",
        "webhook_callback_verification",
    );
    let cfg = ProviderConfig::new(Provider::Twitch, ["twitch-secret"]);
    assert!(verify(&cfg, &req, NOW).is_ok());
    let answer = handshake(&cfg, &req.get()).expect("a handshake");
    assert_eq!(answer.status, 200);
    assert!(answer.content_type.starts_with("text/plain"));
    assert_eq!(answer.body, b"pogchamp-kappa-360noscope-vohiyo");
    req.set("twitch-eventsub-message-type", "notification");
    assert_eq!(handshake(&cfg, &req.get()), None);
}

#[test]
fn zoom_url_validation_returns_the_hmac_of_the_plain_token_with_the_signing_secret() {
    let body = br#"{"payload":{"plainToken":"qgg8vlvZRS6UYooatFL8Aw"},"event_ts":1654503849680,"event":"endpoint.url_validation"}"#;
    let req = sign(Provider::Zoom, "new-token", body, NOW);
    let cfg = ProviderConfig::new(Provider::Zoom, ["old-token", "new-token"]);
    assert!(verify(&cfg, &req, NOW).is_ok());
    let answer = handshake(&cfg, &req.get()).expect("a handshake");
    assert_eq!(answer.content_type, "application/json");
    let json: serde_json::Value = serde_json::from_slice(&answer.body).unwrap();
    assert_eq!(json["plainToken"], "qgg8vlvZRS6UYooatFL8Aw");
    assert_eq!(
        json["encryptedToken"],
        hex(&hmac256(b"new-token", b"qgg8vlvZRS6UYooatFL8Aw"))
    );
}

#[test]
fn other_providers_have_no_handshake() {
    let req = sign(
        Provider::Github,
        "s",
        br#"{"type":"url_verification","challenge":"c"}"#,
        NOW,
    );
    assert_eq!(
        handshake(&ProviderConfig::new(Provider::Github, ["s"]), &req.get()),
        None
    );
}

#[test]
fn receive_answers_a_probe_unverified_but_a_handshake_only_when_verified() {
    let cfg = ProviderConfig::new(Provider::Slack, ["slack-secret"]);
    // Slack's ssl_check carries nothing: answered before any signature check.
    let probe = Req::new(
        "https://hooks.example.com/ingest/t",
        &b"ssl_check=1&token=x"[..],
    );
    assert!(matches!(
        hookd_ingest::receive(&cfg, &probe.get(), NOW),
        Received::Answer(a) if a.status == 200 && a.body.is_empty()
    ));
    // A challenge signed with another secret is refused, not answered.
    let body = br#"{"type":"url_verification","challenge":"c"}"#;
    let forged = sign(Provider::Slack, "another-secret", body, NOW);
    assert_eq!(
        hookd_ingest::receive(&cfg, &forged.get(), NOW),
        Received::Refused(hookd_ingest::Rejection::BadSignature)
    );
    // An ordinary verified event is an event.
    let event = sign(
        Provider::Slack,
        "slack-secret",
        br#"{"type":"event_callback"}"#,
        NOW,
    );
    assert!(matches!(
        hookd_ingest::receive(&cfg, &event.get(), NOW),
        Received::Event(_)
    ));
}
