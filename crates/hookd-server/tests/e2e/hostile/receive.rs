//! The hostile corpus of the receive path: each provider's receive URL × hostile bodies
//! and headers, correctly signed (a 2xx: a verified event is never refused for its
//! content, nor answered 5xx) and unsigned or forged (a 4xx).

use super::{hostile_segments, Expect, Fixture, Probe, OVER_LIMIT};
use crate::support::TestApp;
use hookd_ingest::Provider;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};

/// The ingest crate's test signers, one per provider (written from the providers' docs).
#[allow(dead_code)]
#[path = "../../../../hookd-ingest/tests/ingest/common.rs"]
pub(crate) mod signers;

/// An ingest source receiving as one provider.
pub(crate) struct Source {
    pub provider: Provider,
    pub secret: String,
    /// Its receive URL, as the provider is told it (and signs it, for Twilio).
    pub url: String,
    /// The same, from `/ingest/`.
    pub path: String,
}

/// A receiving source of each provider, with an endpoint.
pub(crate) async fn sources(app: &TestApp, fx: &Fixture) -> Vec<Source> {
    let mut out = Vec::new();
    for provider in signers::PROVIDERS {
        let secret = signers::secret_for(provider, "hostile-secret-0123456789");
        let (s, v) = app
            .post(
                "/ingest/api/v1/source",
                json!({"name": "p", "type": source_type(provider), "config": {"secret": secret}}),
            )
            .await;
        assert_eq!(s, 201, "{provider:?}: {v}");
        let id = v["id"].as_str().unwrap();
        let url = v["ingestUrl"].as_str().unwrap().to_owned();
        let path = url[url.find("/ingest/").unwrap()..].to_owned();
        let (s, v) = app
            .post(
                &format!("/ingest/api/v1/source/{id}/endpoint"),
                json!({"url": fx.receiver.url("/fwd")}),
            )
            .await;
        assert_eq!(s, 201, "{v}");
        out.push(Source {
            provider,
            secret,
            url,
            path,
        });
    }
    out
}

/// hookd's source type of each provider the signers cover.
fn source_type(provider: Provider) -> &'static str {
    match provider {
        Provider::StandardWebhooks => "standard-webhooks",
        Provider::Github => "github",
        Provider::Stripe => "stripe",
        Provider::Shopify => "shopify",
        Provider::Slack => "slack",
        Provider::Twilio => "twilio",
        Provider::Paddle => "paddle",
        Provider::Linear => "linear",
        Provider::Gitlab => "gitlab",
        Provider::Twitch => "twitch",
        Provider::Zoom => "zoom",
        Provider::GenericHmac => "generic-hmac",
    }
}

/// `body` signed as `provider` sends it to `path` on `app`, now; with what it must get.
/// Linear signs a timestamp carried in the body (one is put in a JSON object; any other
/// body is not a correctly signed Linear request, so only a 4xx is asked of it), and
/// Twilio signs form fields, so a body that is not UTF-8 is no Twilio request either.
pub(crate) fn signed(source: &Source, body: &[u8], label: &str) -> Probe {
    let provider = source.provider;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let mut body = body.to_vec();
    let mut expect = Expect::Success;
    if provider == Provider::Linear {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(mut fields)) => {
                fields.insert("webhookTimestamp".into(), json!(now * 1000));
                body = serde_json::to_vec(&fields).unwrap();
            }
            _ => expect = Expect::ClientError,
        }
    }
    if provider == Provider::Twilio && std::str::from_utf8(&body).is_err() {
        expect = Expect::ClientError;
    }
    let req = signers::sign_to(&source.url, provider, &source.secret, &body, now);
    let mut p = Probe::new(
        format!("signed {provider:?} {label}"),
        "POST",
        source.path.clone(),
    );
    p.headers = req
        .headers
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    p.body = Some(req.body);
    p.expect = expect;
    p.anonymous = true;
    p
}

/// Provider bodies no provider would send.
fn hostile_event_bodies() -> Vec<(&'static str, Vec<u8>)> {
    let mut out: Vec<(&'static str, Vec<u8>)> = vec![
        ("empty", Vec::new()),
        ("nul", b"\0".to_vec()),
        ("not utf-8", b"\xff\xfe\x00\x01".to_vec()),
        ("nul inside text", b"a\0b\0c".to_vec()),
        (
            "nul in id and type",
            br#"{"id":"evt_\u0000x","type":"a\u0000b","event_id":"\u0000","event_type":"\u0000","event":{"type":"\u0000"}}"#.to_vec(),
        ),
        ("id of another type", br#"{"id":123,"type":[],"event":7}"#.to_vec()),
        ("lone surrogate", br#"{"id":"\ud800","type":"\udfff"}"#.to_vec()),
        ("crlf in id", br#"{"id":"a\r\nx-injected: 1","event_id":"\r\n"}"#.to_vec()),
        ("deep nesting", "[".repeat(50_000).into_bytes()),
        ("form with nul", b"From=%00&Body=%ff%fe&%00=1".to_vec()),
        ("zoom event", br#"{"event":"\u0000","payload":{}}"#.to_vec()),
    ];
    out.push((
        "long id and type",
        format!(
            r#"{{"id":"{}","type":"{}","event_id":"{}"}}"#,
            "i".repeat(20_000),
            "t".repeat(20_000),
            "e".repeat(3_000)
        )
        .into_bytes(),
    ));
    out
}

/// The corpus over each provider's receive URL.
pub(crate) fn probes(sources: &[Source]) -> Vec<Probe> {
    let mut out = Vec::new();
    for source in sources {
        let (provider, path) = (source.provider, &source.path);
        for (label, body) in hostile_event_bodies() {
            out.push(signed(source, &body, label));
            // The same bytes, unsigned or with a made-up signature: refused.
            let mut unsigned = Probe::new(
                format!("unsigned {provider:?} {label}"),
                "POST",
                path.clone(),
            );
            unsigned.body = Some(body.clone());
            unsigned.expect = Expect::ClientError;
            unsigned.anonymous = true;
            out.push(unsigned);
            let mut forged = signed(source, &body, label);
            forged.label = format!("forged {provider:?} {label}");
            for (name, value) in forged.headers.iter_mut() {
                if name.as_str() == signers::signature_header(provider) {
                    *value = HeaderValue::from_bytes(b"v1,\xff\xfe==").unwrap();
                }
            }
            forged.expect = Expect::ClientError;
            out.push(forged);
        }
        // Signed, with hostile bytes in the headers the provider names its events by.
        let mut odd = signed(source, br#"{"id":"evt_odd","type":"x"}"#, "odd headers");
        for name in [
            "content-type",
            "x-github-event",
            "x-shopify-topic",
            "linear-event",
            "x-gitlab-event",
            "twitch-eventsub-subscription-type",
            "user-agent",
        ] {
            odd.headers.push((
                HeaderName::from_static(name),
                HeaderValue::from_bytes(b"\xff\xfe\x80").unwrap(),
            ));
        }
        out.push(odd);
        // Over the body limit, signed or not: refused (413).
        let mut huge = signed(source, &vec![b'x'; OVER_LIMIT], "huge");
        huge.expect = Expect::ClientError;
        out.push(huge);
        // The receive path itself.
        for seg in hostile_segments() {
            let mut p = Probe::new("receive path", "POST", format!("/ingest/{seg}"));
            p.body = Some(b"{}".to_vec());
            p.anonymous = true;
            p.expect = Expect::ClientError;
            out.push(p);
        }
    }
    out
}
