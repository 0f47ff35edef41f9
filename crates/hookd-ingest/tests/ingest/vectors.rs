//! Every entry of the shared `signatures.json` vectors (official or oracle-derived
//! signatures) is accepted, and refused once a body byte is flipped. Without the file
//! the test reports it was skipped, unless `HOOKD_REQUIRE_VECTORS=1`.

use crate::common::*;
use hookd_ingest::{Provider, ProviderConfig};
use serde_json::Value;
use std::path::PathBuf;

fn vectors() -> Option<Vec<Value>> {
    let path = std::env::var_os("HOOKD_VECTORS")
        .map(PathBuf::from)
        .unwrap_or_else(|| {
            PathBuf::from(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/../../../shared/vectors/signatures.json"
            ))
        });
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("vectors file is JSON")),
        Err(e) => {
            assert!(
                std::env::var("HOOKD_REQUIRE_VECTORS").as_deref() != Ok("1"),
                "signature vectors required but unreadable at {}: {e}",
                path.display()
            );
            eprintln!("SKIPPED: no signature vectors at {} ({e})", path.display());
            None
        }
    }
}

/// The request, config and verification time a vector describes.
fn request_for(v: &Value) -> Vec<(ProviderConfig, Req, i64)> {
    let s = |k: &str| v[k].as_str().unwrap_or_else(|| panic!("vector field {k}"));
    let secret = s("secret");
    let header = s("expected_header");
    let payload = v["payload"].as_str().unwrap_or("").as_bytes().to_vec();
    let ts = v["timestamp"].as_i64().unwrap_or(0);
    let cfg = |p: Provider, secret: &str| ProviderConfig::new(p, [secret]);
    let plain = |p: Provider| {
        let req = Req::new(URL, payload.clone()).with(s("header_name"), header);
        vec![(cfg(p, secret), req, ts)]
    };
    match s("scheme") {
        "standard-webhooks-v1" | "standard-webhooks-v1a" => {
            let key = v["public_key"].as_str().unwrap_or(secret);
            let req = Req::new(URL, payload.clone())
                .with("webhook-id", s("id"))
                .with("webhook-timestamp", &ts.to_string())
                .with("webhook-signature", header);
            vec![(cfg(Provider::StandardWebhooks, key), req, ts)]
        }
        "github-sha256" => plain(Provider::Github),
        "stripe-v1" => plain(Provider::Stripe),
        "shopify-hmac-sha256" => plain(Provider::Shopify),
        "paddle-billing-h1" => plain(Provider::Paddle),
        "linear" => {
            let mut cases = plain(Provider::Linear);
            cases[0].2 = ts / 1000;
            cases
        }
        "slack-v0" => {
            let req = Req::new(URL, payload.clone())
                .with(s("header_name"), header)
                .with(s("timestamp_header"), &ts.to_string());
            vec![(cfg(Provider::Slack, secret), req, ts)]
        }
        "twitch-eventsub" => {
            let stamp = s("timestamp");
            let now =
                time::OffsetDateTime::parse(stamp, &time::format_description::well_known::Rfc3339)
                    .unwrap()
                    .unix_timestamp();
            let req = Req::new(URL, payload.clone())
                .with(s("header_name"), header)
                .with("twitch-eventsub-message-id", s("id"))
                .with("twitch-eventsub-message-timestamp", stamp);
            vec![(cfg(Provider::Twitch, secret), req, now)]
        }
        "twilio-sha1-form" => {
            let mut form = url::form_urlencoded::Serializer::new(String::new());
            for (k, val) in v["params"].as_object().unwrap() {
                form.append_pair(k, val.as_str().unwrap());
            }
            let body = form.finish().into_bytes();
            let url = s("url");
            let with_port = url.replacen(".com/", ".com:443/", 1);
            let form_req = |url: &str, sig: &str| {
                Req::new(url, body.clone())
                    .with("x-twilio-signature", sig)
                    .with("content-type", "application/x-www-form-urlencoded")
            };
            let signed_with_port = v["also_valid"]["url_with_:443"].as_str().unwrap();
            vec![
                (cfg(Provider::Twilio, secret), form_req(url, header), 0),
                (
                    cfg(Provider::Twilio, secret),
                    form_req(&with_port, header),
                    0,
                ),
                (
                    cfg(Provider::Twilio, secret),
                    form_req(url, signed_with_port),
                    0,
                ),
                (
                    cfg(Provider::Twilio, secret),
                    form_req(&with_port, signed_with_port),
                    0,
                ),
            ]
        }
        "twilio-sha1-json" => {
            let req = Req::new(s("url"), payload.clone())
                .with("x-twilio-signature", header)
                .with("content-type", "application/json");
            vec![(cfg(Provider::Twilio, secret), req, 0)]
        }
        other => panic!("vector scheme {other} has no verifier: add one"),
    }
}

#[test]
fn every_shared_vector_verifies_and_a_flipped_byte_does_not() {
    let Some(all) = vectors() else { return };
    assert!(!all.is_empty());
    let mut checked = 0;
    for v in &all {
        for (cfg, req, now) in request_for(v) {
            let scheme = v["scheme"].as_str().unwrap();
            let verified = verify(&cfg, &req, now).unwrap_or_else(|code| {
                panic!("vector {scheme} ({}) refused: {code}", v["provenance"])
            });
            if let Some(id) = v["id"].as_str() {
                assert_eq!(verified.event_id.as_deref(), Some(id), "{scheme} event id");
            }
            let mut tampered = req.clone();
            if tampered.body.is_empty() {
                continue;
            }
            tampered.body[1] ^= 0x01;
            assert!(
                verify(&cfg, &tampered, now).is_err(),
                "{scheme} accepted a flipped byte"
            );
            checked += 1;
        }
    }
    eprintln!("{checked} vector requests verified");
    assert!(checked >= all.len());
}

#[test]
fn stripe_vector_yields_the_event_id_from_the_body() {
    let Some(all) = vectors() else { return };
    let v = all
        .iter()
        .find(|v| v["scheme"] == "stripe-v1")
        .expect("a stripe vector");
    let (cfg, req, now) = request_for(v).remove(0);
    assert_eq!(
        verify(&cfg, &req, now).unwrap().event_id.as_deref(),
        Some("evt_test_webhook")
    );
    assert_eq!(
        verify(&cfg, &req, now + 301).unwrap_err(),
        "stale_timestamp"
    );
}
