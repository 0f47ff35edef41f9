//! For every provider: an authentic request passes with its event id, and a tampered
//! byte, a wrong secret, a stale timestamp, a missing or malformed header are each
//! refused with their own code; a second active secret is accepted (rotation).

use crate::common::*;
use hookd_ingest::{Provider, ProviderConfig, Rejection};

fn config(provider: Provider, seeds: &[&str]) -> ProviderConfig {
    ProviderConfig::new(provider, seeds.iter().map(|s| secret_for(provider, s)))
}

fn signed(provider: Provider, seed: &str, ts: i64) -> Req {
    sign(
        provider,
        &secret_for(provider, seed),
        &body_for(provider, ts),
        ts,
    )
}

#[test]
fn authentic_requests_are_accepted_with_their_event_id() {
    for p in PROVIDERS {
        let v = verify(&config(p, &["s3cret"]), &signed(p, "s3cret", NOW), NOW)
            .unwrap_or_else(|code| panic!("{p:?} refused an authentic request: {code}"));
        let expected_id = match p {
            Provider::StandardWebhooks => Some("msg_2abc"),
            Provider::Github => Some("72d3162e-cc78-11e3-81ab-4c9367dc0958"),
            Provider::Stripe => Some("evt_123"),
            Provider::Shopify => Some("b54557e4-bdd9-4b37-8a5f-bf7d70bcd043"),
            Provider::Paddle => Some("ntf_123"),
            Provider::Linear => Some("234d1a4e-b617-4388-90fe-adc3633d6b72"),
            Provider::Gitlab => Some("f1d8f6ea-0c6f-4e3b-9cf2-4a9f0a1c9d11"),
            Provider::Twitch => Some("e76c6bd4-55c9-4987-8304-da1588d8988b"),
            Provider::Twilio => Some("tok-1"),
            Provider::Slack => Some("ntf_123"),
            Provider::Zoom | Provider::GenericHmac => None,
        };
        assert_eq!(v.event_id.as_deref(), expected_id, "{p:?} event id");
        let expected_ts = signs_timestamp(p).then_some(NOW);
        assert_eq!(v.timestamp, expected_ts, "{p:?} timestamp");
    }
}

#[test]
fn a_tampered_body_byte_is_refused() {
    for p in PROVIDERS {
        if p == Provider::Gitlab {
            continue; // GitLab's token mode signs nothing; see gitlab_* tests.
        }
        let mut req = signed(p, "s3cret", NOW);
        let last = req.body.len() - 2;
        req.body[last] ^= 0x01;
        assert_eq!(
            verify(&config(p, &["s3cret"]), &req, NOW).unwrap_err(),
            "bad_signature",
            "{p:?}"
        );
    }
}

#[test]
fn a_wrong_secret_is_refused() {
    for p in PROVIDERS {
        let req = signed(p, "s3cret", NOW);
        assert_eq!(
            verify(&config(p, &["other-secret"]), &req, NOW).unwrap_err(),
            "bad_signature",
            "{p:?}"
        );
    }
}

#[test]
fn a_second_active_secret_is_accepted_during_rotation() {
    for p in PROVIDERS {
        let req = signed(p, "new-secret", NOW);
        let both = config(p, &["old-secret", "new-secret"]);
        assert!(
            verify(&both, &req, NOW).is_ok(),
            "{p:?} rejected the second secret"
        );
        let req = signed(p, "old-secret", NOW);
        assert!(
            verify(&both, &req, NOW).is_ok(),
            "{p:?} rejected the first secret"
        );
    }
}

#[test]
fn a_stale_timestamp_is_refused_and_one_inside_the_tolerance_accepted() {
    for p in PROVIDERS.into_iter().filter(|p| signs_timestamp(*p)) {
        let cfg = config(p, &["s3cret"]);
        let tolerance = cfg.tolerance() as i64;
        let old = signed(p, "s3cret", NOW - tolerance - 1);
        assert_eq!(
            verify(&cfg, &old, NOW).unwrap_err(),
            "stale_timestamp",
            "{p:?} past"
        );
        // Paddle bounds the future side differently: see paddle_checks_age_not_skew_*.
        let ahead = if p == Provider::Paddle {
            300
        } else {
            tolerance
        };
        let future = signed(p, "s3cret", NOW + ahead + 1);
        assert_eq!(
            verify(&cfg, &future, NOW).unwrap_err(),
            "stale_timestamp",
            "{p:?} future"
        );
        let edge = signed(p, "s3cret", NOW - tolerance);
        assert!(
            verify(&cfg, &edge, NOW).is_ok(),
            "{p:?} at the edge of its tolerance"
        );
    }
}

#[test]
fn documented_default_tolerances() {
    let t = |p: Provider| p.default_tolerance_secs();
    assert_eq!(t(Provider::Stripe), Some(300));
    assert_eq!(t(Provider::Slack), Some(300));
    assert_eq!(t(Provider::StandardWebhooks), Some(300));
    assert_eq!(t(Provider::Paddle), Some(5));
    assert_eq!(t(Provider::Linear), Some(60));
    assert_eq!(t(Provider::Twitch), Some(600));
    assert_eq!(t(Provider::Github), None);
}

#[test]
fn a_missing_signature_header_is_refused() {
    for p in PROVIDERS {
        let mut req = signed(p, "s3cret", NOW);
        req.headers.remove(signature_header(p));
        assert_eq!(
            verify(&config(p, &["s3cret"]), &req, NOW).unwrap_err(),
            "missing_header",
            "{p:?}"
        );
    }
}

#[test]
fn a_malformed_signature_header_is_refused() {
    for p in PROVIDERS {
        if p == Provider::Gitlab {
            continue; // a token has no format: any wrong value is bad_signature.
        }
        let mut req = signed(p, "s3cret", NOW);
        req.set(signature_header(p), "%%%");
        assert_eq!(
            verify(&config(p, &["s3cret"]), &req, NOW).unwrap_err(),
            "malformed_signature",
            "{p:?}"
        );
    }
}

#[test]
fn a_missing_timestamp_header_or_unparseable_timestamp_is_refused() {
    let cases = [
        (Provider::StandardWebhooks, "webhook-timestamp"),
        (Provider::Slack, "x-slack-request-timestamp"),
        (Provider::Twitch, "twitch-eventsub-message-timestamp"),
        (Provider::Zoom, "x-zm-request-timestamp"),
    ];
    for (p, header) in cases {
        let mut req = signed(p, "s3cret", NOW);
        req.set(header, "yesterday");
        assert_eq!(
            verify(&config(p, &["s3cret"]), &req, NOW).unwrap_err(),
            "malformed_timestamp"
        );
        req.headers.remove(header);
        assert_eq!(
            verify(&config(p, &["s3cret"]), &req, NOW).unwrap_err(),
            "missing_header"
        );
    }
}

#[test]
fn no_secret_configured_is_missing_secret() {
    let cfg = ProviderConfig::new(Provider::Github, Vec::<String>::new());
    let req = signed(Provider::Github, "s3cret", NOW);
    let err = hookd_ingest::verify(&cfg, &req.get(), NOW).unwrap_err();
    assert_eq!(err, Rejection::MissingSecret);
    assert_eq!(err.code(), "missing_secret");
}

#[test]
fn details_and_debug_never_show_the_secret() {
    let secret = "sup3r-s3cret-value";
    for p in PROVIDERS {
        let cfg = config(p, &[secret]);
        assert!(
            !format!("{cfg:?}").contains(secret),
            "{p:?} Debug shows the secret"
        );
        let mut req = signed(p, "wrong", NOW - 10_000);
        req.set(signature_header(p), secret);
        if let Err(r) = hookd_ingest::verify(&cfg, &req.get(), NOW) {
            assert!(!r.detail().contains(secret) && !r.to_string().contains(secret));
        }
    }
}

#[test]
fn stripe_accepts_any_of_several_v1_signatures() {
    let secret = "whsec_rolling";
    let good = sign(Provider::Stripe, secret, b"{\"id\":\"evt_9\"}", NOW);
    let good_sig = good.headers["stripe-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let v1 = good_sig.split_once(",v1=").unwrap().1;
    let mut req = good.clone();
    req.set(
        "stripe-signature",
        &format!("t={NOW},v1={},v1={v1},v0=abc", "0".repeat(64)),
    );
    let cfg = ProviderConfig::new(Provider::Stripe, [secret]);
    assert_eq!(
        verify(&cfg, &req, NOW).unwrap().event_id.as_deref(),
        Some("evt_9")
    );
    req.set(
        "stripe-signature",
        &format!("t={NOW},v1={},v1={}", "0".repeat(64), "1".repeat(64)),
    );
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "bad_signature");
    req.set("stripe-signature", &format!("t={NOW},v0={v1}"));
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "malformed_signature");
}

#[test]
fn paddle_accepts_any_of_several_h1_signatures() {
    let secret = "pdl_ntf_x";
    let good = sign(Provider::Paddle, secret, b"{}", NOW);
    let h = good.headers["paddle-signature"]
        .to_str()
        .unwrap()
        .to_string();
    let h1 = h.split_once(";h1=").unwrap().1;
    let mut req = good;
    req.set(
        "paddle-signature",
        &format!("ts={NOW};h1={};h1={h1}", "a".repeat(64)),
    );
    assert!(verify(&ProviderConfig::new(Provider::Paddle, [secret]), &req, NOW).is_ok());
}

#[test]
fn paddle_checks_age_not_skew_like_its_sdks_within_five_minutes_ahead() {
    // Paddle's SDKs refuse only `now > ts + 5`: a receiver whose clock is behind
    // Paddle's (the timestamp looks a little ahead) still accepts.
    let cfg = ProviderConfig::new(Provider::Paddle, ["pdl_ntf_x"]);
    let at = |ts: i64| verify(&cfg, &sign(Provider::Paddle, "pdl_ntf_x", b"{}", ts), NOW);
    assert!(at(NOW - 5).is_ok(), "5 s old");
    assert_eq!(at(NOW - 6).unwrap_err(), "stale_timestamp", "6 s old");
    assert!(at(NOW + 6).is_ok(), "6 s ahead");
    assert!(at(NOW + 300).is_ok(), "5 min ahead");
    assert_eq!(
        at(NOW + 301).unwrap_err(),
        "stale_timestamp",
        "past 5 min ahead"
    );
    let mut wider = cfg.clone();
    wider.tolerance_secs = Some(60);
    let req = sign(Provider::Paddle, "pdl_ntf_x", b"{}", NOW - 60);
    assert!(
        verify(&wider, &req, NOW).is_ok(),
        "toleranceSecs widens the age"
    );
}

#[test]
fn svix_headers_are_accepted_like_webhook_headers() {
    let secret = secret_for(Provider::StandardWebhooks, "svix-key");
    let req = sign(Provider::StandardWebhooks, &secret, b"{}", NOW);
    let mut svix = Req::new(URL, b"{}".to_vec());
    for (name, value) in &req.headers {
        let renamed = name.as_str().replace("webhook-", "svix-");
        svix.set(&renamed, value.to_str().unwrap());
    }
    let cfg: ProviderConfig = serde_json::from_value(serde_json::json!({
        "provider": "svix", "secrets": [secret]
    }))
    .unwrap();
    assert_eq!(cfg.provider, Provider::StandardWebhooks);
    assert_eq!(
        verify(&cfg, &svix, NOW).unwrap().event_id.as_deref(),
        Some("msg_2abc")
    );
}

#[test]
fn gitlab_token_mode_and_standard_webhooks_mode() {
    let cfg = ProviderConfig::new(Provider::Gitlab, ["glpat-token"]);
    let mut req = Req::new(URL, b"{}".to_vec())
        .with("x-gitlab-token", "glpat-token")
        .with("x-gitlab-event-uuid", "uuid-1");
    assert_eq!(
        verify(&cfg, &req, NOW).unwrap().event_id.as_deref(),
        Some("uuid-1")
    );
    req.set("x-gitlab-token", "glpat-toke");
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "bad_signature");

    let whsec = secret_for(Provider::StandardWebhooks, "gitlab-signing-key");
    let signed = sign(
        Provider::StandardWebhooks,
        &whsec,
        b"{\"object_kind\":\"push\"}",
        NOW,
    );
    let cfg = ProviderConfig::new(Provider::Gitlab, [whsec]);
    assert_eq!(
        verify(&cfg, &signed, NOW).unwrap().event_id.as_deref(),
        Some("msg_2abc")
    );
    let mut tampered = signed.clone();
    tampered.body[3] ^= 1;
    assert_eq!(verify(&cfg, &tampered, NOW).unwrap_err(), "bad_signature");
    assert_eq!(
        verify(&cfg, &signed, NOW + 301).unwrap_err(),
        "stale_timestamp"
    );
}

#[test]
fn linear_needs_webhook_timestamp_in_the_signed_body() {
    let body = br#"{"action":"create"}"#;
    let req = Req::new(URL, body.to_vec()).with("linear-signature", &hex(&hmac256(b"k", body)));
    let cfg = ProviderConfig::new(Provider::Linear, ["k"]);
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "malformed_body");
}

#[test]
fn twilio_url_with_and_without_port() {
    let secret = "authtoken";
    let body = b"Digits=1234&CallSid=CA1".to_vec();
    let sign_url = |url: &str| {
        b64(&hmac1(
            secret.as_bytes(),
            format!("{url}CallSidCA1Digits1234").as_bytes(),
        ))
    };
    let cfg = ProviderConfig::new(Provider::Twilio, [secret]);
    // Twilio signed with :443, we received without, and the reverse.
    let cases = [
        (
            "https://example.com:443/sms?a=1",
            "https://example.com/sms?a=1",
        ),
        (
            "https://example.com/sms?a=1",
            "https://example.com:443/sms?a=1",
        ),
        (
            "http://user:pw@example.com:80/sms",
            "http://user:pw@example.com/sms",
        ),
        ("https://example.com/sms", "https://example.com:8443/sms"),
    ];
    for (signed_url, received_url) in cases {
        let req =
            Req::new(received_url, body.clone()).with("x-twilio-signature", &sign_url(signed_url));
        assert!(
            verify(&cfg, &req, NOW).is_ok(),
            "signed {signed_url}, received {received_url}"
        );
    }
    let req = Req::new("https://example.com/other", body.clone())
        .with("x-twilio-signature", &sign_url("https://example.com/sms"));
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "bad_signature");
}

#[test]
fn twilio_json_body_is_checked_against_body_sha256() {
    let secret = "authtoken";
    let body = br#"{"StatusCallbackEvent":"participant-join"}"#;
    let url = format!("https://example.com/hook?bodySHA256={}", sha256_hex(body));
    let sig = b64(&hmac1(secret.as_bytes(), url.as_bytes()));
    let cfg = ProviderConfig::new(Provider::Twilio, [secret]);
    let mut req = Req::new(&url, body.to_vec())
        .with("x-twilio-signature", &sig)
        .with("content-type", "application/json");
    assert!(verify(&cfg, &req, NOW).is_ok());
    req.body[5] ^= 1;
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "body_hash_mismatch");
}

#[test]
fn twilio_post_that_is_not_a_form_is_body_not_form() {
    let cfg = ProviderConfig::new(Provider::Twilio, ["t"]);
    let req = Req::new("https://example.com/hook", b"{}".to_vec())
        .with(
            "x-twilio-signature",
            &b64(&hmac1(b"t", b"https://example.com/hook")),
        )
        .with("content-type", "application/json");
    assert_eq!(verify(&cfg, &req, NOW).unwrap_err(), "body_not_form");
    let req = req.with("content-type", "application/x-www-form-urlencoded");
    let mut bad = req.clone();
    bad.body = vec![0xff, 0xfe];
    assert_eq!(verify(&cfg, &bad, NOW).unwrap_err(), "body_not_form");
    let mut no_scheme = req.clone();
    no_scheme.url = "example.com/hook".into();
    assert_eq!(verify(&cfg, &no_scheme, NOW).unwrap_err(), "malformed_url");
}

#[test]
fn twilio_get_signs_the_url_alone() {
    let url = "https://example.com/voice?CallSid=CA1&From=%2B1";
    let mut req =
        Req::new(url, Vec::new()).with("x-twilio-signature", &b64(&hmac1(b"t", url.as_bytes())));
    req.method = "GET";
    assert!(verify(&ProviderConfig::new(Provider::Twilio, ["t"]), &req, NOW).is_ok());
}

#[test]
fn standard_webhooks_secret_that_is_not_base64_is_invalid_config_unless_another_matches() {
    let good = secret_for(Provider::StandardWebhooks, "k");
    let req = sign(Provider::StandardWebhooks, &good, b"{}", NOW);
    let broken = ProviderConfig::new(Provider::StandardWebhooks, ["whsec_%%%"]);
    assert_eq!(verify(&broken, &req, NOW).unwrap_err(), "invalid_config");
    let mixed = ProviderConfig::new(Provider::StandardWebhooks, ["whsec_%%%".to_string(), good]);
    assert!(verify(&mixed, &req, NOW).is_ok());
}
