//! The receiving route (`/ingest/{token}`) end to end on both backends: provider requests
//! verified, stored and only then acknowledged, forwarded byte-exact and re-signed to the
//! source's endpoints with the provider's identifying headers, provider retries
//! acknowledged but forwarded once, refusals answered 401/413 and recorded in the
//! rejection log, handshakes answered and not forwarded, rotated tokens honoured; and the
//! requests signed by the providers' own libraries (tests/oracles) accepted once and
//! forwarded with the provider's headers, their replays de-duplicated and their tampered
//! copies refused.

use crate::support::{spawn_on, Backend, TestApp};
use hookd_core::crypto::hmac_sha256;
use hookd_core::signing::{verify, EndpointSecret};
use hookd_testkit::{Received, Receiver};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::time::Duration;

const SOURCES: &str = "/ingest/api/v1/source";
const WAIT: Duration = Duration::from_secs(15);

on_both_backends!(
    events_are_stored_forwarded_resent_and_deduplicated,
    refusals_are_401_or_413_and_recorded_without_secrets,
    bodies_of_any_kind_are_forwarded_byte_exact,
    handshakes_are_answered_and_nothing_is_forwarded,
    a_rotated_out_receive_url_keeps_working,
    oracle_requests_are_accepted_once_and_replays_and_tampering_refused,
);

fn hmac_hex(secret: &str, parts: &[&[u8]]) -> String {
    hmac_sha256(secret.as_bytes(), parts)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A source of `type` with `config`, and one ingest endpoint forwarding to `rx` at `path`;
/// returns (source id, ingest URL, endpoint secret).
async fn source_with_endpoint(
    app: &TestApp,
    rx: &Receiver,
    source_type: &str,
    config: Value,
    path: &str,
) -> (String, String, String) {
    let (s, src) = app
        .post(
            SOURCES,
            json!({"name": source_type, "type": source_type, "config": config}),
        )
        .await;
    assert_eq!(s, 201, "{src}");
    let id = src["id"].as_str().unwrap().to_owned();
    let (s, ep) = app
        .post(
            &format!("{SOURCES}/{id}/endpoint"),
            json!({"url": rx.url(path)}),
        )
        .await;
    assert_eq!(s, 201, "{ep}");
    let (s, secret) = app
        .get(&format!(
            "{SOURCES}/{id}/endpoint/{}/secret",
            ep["id"].as_str().unwrap()
        ))
        .await;
    assert_eq!(s, 200, "{secret}");
    (
        id,
        src["ingestUrl"].as_str().unwrap().to_owned(),
        secret["key"].as_str().unwrap().to_owned(),
    )
}

/// Sends `body` with `headers` to a receive URL; returns (status, headers, body text).
async fn send(
    app: &TestApp,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<reqwest::Body>,
) -> (u16, reqwest::header::HeaderMap, String) {
    let mut req = app.client.post(url).body(body);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let resp = req.send().await.unwrap();
    let status = resp.status().as_u16();
    let headers = resp.headers().clone();
    (status, headers, resp.text().await.unwrap())
}

/// A GitHub delivery of `body`, signed with `secret`.
async fn github(
    app: &TestApp,
    url: &str,
    secret: &str,
    delivery: &str,
    body: &str,
) -> (u16, reqwest::header::HeaderMap, String) {
    let sig = format!("sha256={}", hmac_hex(secret, &[body.as_bytes()]));
    send(
        app,
        url,
        &[
            ("content-type", "application/json"),
            ("x-github-event", "push"),
            ("x-github-delivery", delivery),
            ("x-hub-signature-256", &sig),
            ("user-agent", "GitHub-Hookshot/test"),
        ],
        body.to_owned(),
    )
    .await
}

/// POSTs `chunks` chunks of `size` bytes with chunked transfer encoding (no length
/// declared) over a raw connection; returns the answer's status.
async fn chunked_post(url: &str, chunks: usize, size: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let rest = url.strip_prefix("http://").unwrap();
    let (host, path) = rest.split_at(rest.find('/').unwrap());
    let mut conn = tokio::net::TcpStream::connect(host).await.unwrap();
    let head = format!(
        "POST {path} HTTP/1.1\r\nhost: {host}\r\ntransfer-encoding: chunked\r\n\
         x-hub-signature-256: sha256=00\r\nconnection: close\r\n\r\n"
    );
    conn.write_all(head.as_bytes()).await.unwrap();
    for _ in 0..chunks {
        let chunk = format!("{size:x}\r\n{}\r\n", "y".repeat(size));
        // The server may answer and close before everything is written.
        if conn.write_all(chunk.as_bytes()).await.is_err() {
            break;
        }
    }
    let _ = conn.write_all(b"0\r\n\r\n").await;
    let mut answer = Vec::new();
    let _ = conn.read_to_end(&mut answer).await;
    let text = String::from_utf8_lossy(&answer);
    text.split(' ').nth(1).unwrap().parse().unwrap()
}

fn header<'a>(r: &'a Received, name: &str) -> &'a str {
    r.headers
        .get(name)
        .unwrap_or_else(|| panic!("{name} missing"))
        .to_str()
        .unwrap()
}

/// Checks hookd's own signature of a forwarded request with the endpoint's secret.
fn verify_forwarded(secret: &str, r: &Received) {
    let ts: i64 = header(r, "webhook-timestamp").parse().unwrap();
    verify(
        &[EndpointSecret::parse(secret).unwrap().verifying_key()],
        header(r, "webhook-id"),
        &ts.to_string(),
        &r.body,
        header(r, "webhook-signature"),
        hookd_core::Timestamp::now().as_secs(),
        300,
    )
    .expect("the forwarded request is signed with the ingest endpoint's secret");
}

async fn messages_of(app: &TestApp, source: &str) -> Vec<Value> {
    let (s, v) = app.get(&format!("/app/hookd-ingest-{source}/msg")).await;
    assert_eq!(s, 200, "{v}");
    v["data"].as_array().unwrap().clone()
}

async fn events_are_stored_forwarded_resent_and_deduplicated(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (id, url, ep_secret) =
        source_with_endpoint(&app, &rx, "github", json!({"secret": "gh-s3cret"}), "/gh").await;
    let body = r#"{"ref":"refs/heads/main","commits":[{"id":"c0ffee"}]}"#;

    let (s, h, text) = github(&app, &url, "gh-s3cret", "d-1", body).await;
    assert_eq!(s, 204, "{text}");
    let msg_id = h["x-hookd-msg-id"].to_str().unwrap().to_owned();
    assert!(msg_id.starts_with("msg_"), "{msg_id}");
    assert!(h.get("x-hookd-duplicate").is_none());
    // Stored before the answer: the message is there with the body as its payload.
    let (s, msg) = app
        .get(&format!("/app/hookd-ingest-{id}/msg/{msg_id}"))
        .await;
    assert_eq!(s, 200, "{msg}");
    assert_eq!(msg["payload"]["commits"][0]["id"], "c0ffee");
    assert_eq!(msg["eventType"], "push", "the provider's event type");

    let got = rx.wait_for("/gh", 1, WAIT).await;
    let r = &got[0];
    assert_eq!(&r.body[..], body.as_bytes(), "forwarded byte-exact");
    verify_forwarded(&ep_secret, r);
    assert_eq!(header(r, "webhook-id"), msg_id);
    assert_eq!(header(r, "content-type"), "application/json");
    assert_eq!(header(r, "x-github-delivery"), "d-1");
    assert_eq!(header(r, "x-github-event"), "push");
    assert!(header(r, "x-hub-signature-256").starts_with("sha256="));
    assert_eq!(header(r, "x-hookd-source-id"), id);
    assert_eq!(header(r, "x-hookd-provider-event-id"), "d-1");
    assert!(header(r, "user-agent").starts_with("hookd/"));

    // The provider retries the same delivery: acknowledged, pointing at the first, and
    // not stored again.
    let (s, h, _) = github(&app, &url, "gh-s3cret", "d-1", body).await;
    assert_eq!(s, 204);
    assert_eq!(h["x-hookd-duplicate"], "true");
    assert_eq!(h["x-hookd-msg-id"].to_str().unwrap(), msg_id);
    let (s, _, _) = github(&app, &url, "gh-s3cret", "d-2", body).await;
    assert_eq!(s, 204);
    let got = rx.wait_for("/gh", 2, WAIT).await;
    assert_eq!(header(&got[1], "x-github-delivery"), "d-2");
    assert_eq!(
        messages_of(&app, &id).await.len(),
        2,
        "the retry was not stored"
    );

    // Attempts and resend work as for any message; a resend forwards the same request.
    let ep = app.get(&format!("{SOURCES}/{id}/endpoint")).await.1["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = format!("/app/hookd-ingest-{id}/msg/{msg_id}/endpoint/{ep}/resend");
    let (s, v) = app.post(&path, json!({})).await;
    assert_eq!(s, 202, "{v}");
    let got = rx.wait_for("/gh", 3, WAIT).await;
    let resent = got
        .iter()
        .skip(2)
        .find(|r| header(r, "webhook-id") == msg_id)
        .expect("the resend");
    assert_eq!(&resent.body[..], body.as_bytes());
    assert_eq!(header(resent, "x-github-delivery"), "d-1");
    verify_forwarded(&ep_secret, resent);
    app.wait_for(
        &format!("/app/hookd-ingest-{id}/attempt/msg/{msg_id}"),
        WAIT,
        |v| v["data"].as_array().is_some_and(|a| a.len() == 2),
    )
    .await;
}

async fn refusals_are_401_or_413_and_recorded_without_secrets(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| c.max_body_bytes = 64 * 1024).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (id, url, _) =
        source_with_endpoint(&app, &rx, "github", json!({"secret": "gh-s3cret"}), "/gh").await;
    let body = r#"{"action":"opened"}"#;
    let good_sig = format!("sha256={}", hmac_hex("gh-s3cret", &[body.as_bytes()]));

    // A changed byte.
    let tampered = body.replace("opened", "closed");
    let (s, _, text) = send(
        &app,
        &url,
        &[
            ("x-hub-signature-256", &good_sig),
            ("x-github-delivery", "d-1"),
            ("authorization", "Bearer do-not-record-me"),
        ],
        tampered.clone(),
    )
    .await;
    assert_eq!(s, 401, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["code"], "bad_signature", "{v}");
    // Another secret.
    let other = format!("sha256={}", hmac_hex("not-it", &[body.as_bytes()]));
    let (s, _, text) = send(&app, &url, &[("x-hub-signature-256", &other)], body).await;
    assert_eq!(s, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "bad_signature"
    );
    // No signature; a malformed one.
    let (s, _, text) = send(&app, &url, &[], body).await;
    assert_eq!(s, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "missing_header"
    );
    let (s, _, text) = send(&app, &url, &[("x-hub-signature-256", "md5=zz")], body).await;
    assert_eq!(s, 401);
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "malformed_signature"
    );
    // Too big, declared or streamed: 413, never a 5xx.
    let big = "x".repeat(64 * 1024 + 1);
    let (s, _, text) = send(&app, &url, &[("x-hub-signature-256", &good_sig)], big).await;
    assert_eq!(s, 413, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "body_too_large"
    );
    assert_eq!(
        chunked_post(&url, 17, 4096).await,
        413,
        "no length declared"
    );
    // An unknown receive URL.
    let unknown = format!(
        "{}/ingest/no-such-token",
        url.rsplit_once("/ingest/").unwrap().0
    );
    let (s, _, text) = send(&app, &unknown, &[], body).await;
    assert_eq!(s, 404, "{text}");

    // The log, newest first; nothing was stored or forwarded.
    let log = app
        .wait_for(&format!("{SOURCES}/{id}/rejection"), WAIT, |v| {
            v["data"].as_array().is_some_and(|a| a.len() == 6)
        })
        .await;
    let codes: Vec<&str> = log["data"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["code"].as_str().unwrap())
        .collect();
    assert_eq!(
        codes,
        [
            "body_too_large",
            "body_too_large",
            "malformed_signature",
            "missing_header",
            "bad_signature",
            "bad_signature"
        ]
    );
    let first = &log["data"][5];
    assert_eq!(first["body"], tampered.as_str());
    assert_eq!(first["bodySize"], tampered.len());
    assert_eq!(first["headers"]["x-github-delivery"], "d-1");
    assert_eq!(first["headers"]["x-hub-signature-256"], good_sig.as_str());
    assert!(first["detail"].as_str().is_some_and(|d| !d.is_empty()));
    assert!(
        !log.to_string().contains("do-not-record-me"),
        "credentials are not recorded: {log}"
    );
    let big = &log["data"][1];
    assert_eq!(big["bodySize"], 64 * 1024 + 1);
    assert!(big["body"].as_str().unwrap().len() <= 4096);
    assert!(messages_of(&app, &id).await.is_empty());
    assert!(rx.received("/gh").is_empty());

    // Authentic but an hour old (Stripe allows 5 minutes): a replay of a captured request.
    let (stripe, stripe_url, _) =
        source_with_endpoint(&app, &rx, "stripe", json!({"secret": "whsec_st"}), "/st").await;
    let body = r#"{"id":"evt_old","type":"invoice.paid"}"#;
    let t = (hookd_core::Timestamp::now().as_secs() - 3600).to_string();
    let sig = format!(
        "t={t},v1={}",
        hmac_hex("whsec_st", &[t.as_bytes(), b".", body.as_bytes()])
    );
    let (s, _, text) = send(&app, &stripe_url, &[("stripe-signature", &sig)], body).await;
    assert_eq!(s, 401, "{text}");
    assert_eq!(
        serde_json::from_str::<Value>(&text).unwrap()["code"],
        "stale_timestamp"
    );
    let (_, log) = app.get(&format!("{SOURCES}/{stripe}/rejection")).await;
    assert_eq!(log["data"][0]["code"], "stale_timestamp", "{log}");
    assert!(messages_of(&app, &stripe).await.is_empty());
}

async fn bodies_of_any_kind_are_forwarded_byte_exact(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let config = json!({"secret": "g3n", "algorithm": "sha256", "header": "x-sig",
        "encoding": "hex", "idHeader": "x-event-id"});
    let (id, url, ep_secret) =
        source_with_endpoint(&app, &rx, "generic-hmac", config, "/any").await;
    let form = b"To=%2B15551234567&Body=h%C3%A9llo+there&From=%2B1555".to_vec();
    let binary: Vec<u8> = vec![0, 159, 146, 150, 255, 10, 0, 1];
    for (i, (body, content_type)) in [
        (form.clone(), "application/x-www-form-urlencoded"),
        (binary.clone(), "application/octet-stream"),
    ]
    .into_iter()
    .enumerate()
    {
        let sig = hmac_hex("g3n", &[&body]);
        let event = format!("e-{i}");
        let (s, _, text) = send(
            &app,
            &url,
            &[
                ("content-type", content_type),
                ("x-sig", &sig),
                ("x-event-id", &event),
            ],
            body,
        )
        .await;
        assert_eq!(s, 204, "{text}");
    }
    let got = rx.wait_for("/any", 2, WAIT).await;
    for (body, content_type, event) in [
        (&form, "application/x-www-form-urlencoded", "e-0"),
        (&binary, "application/octet-stream", "e-1"),
    ] {
        let r = got
            .iter()
            .find(|r| header(r, "x-hookd-provider-event-id") == event)
            .unwrap();
        assert_eq!(&r.body[..], &body[..], "byte-exact");
        assert_eq!(header(r, "content-type"), content_type);
        assert_eq!(header(r, "x-event-id"), event);
        verify_forwarded(&ep_secret, r);
    }
    // The API shows a body that is not JSON as a string.
    let msgs = messages_of(&app, &id).await;
    assert!(msgs.iter().any(|m| m["payload"]
        .as_str()
        .is_some_and(|p| p.starts_with("To=%2B"))));
}

async fn handshakes_are_answered_and_nothing_is_forwarded(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let now = hookd_core::Timestamp::now().as_secs().to_string();

    // Slack url_verification, signed v0.
    let (slack, slack_url, _) =
        source_with_endpoint(&app, &rx, "slack", json!({"secret": "sl4ck"}), "/hs").await;
    let body = r#"{"token":"t","challenge":"ch4ll3nge","type":"url_verification"}"#;
    let base = format!("v0:{now}:{body}");
    let sig = format!("v0={}", hmac_hex("sl4ck", &[base.as_bytes()]));
    let signed = [
        ("content-type", "application/json"),
        ("x-slack-request-timestamp", now.as_str()),
        ("x-slack-signature", sig.as_str()),
    ];
    let (s, _, text) = send(&app, &slack_url, &signed, body).await;
    assert_eq!((s, text.as_str()), (200, "ch4ll3nge"));
    // The same challenge unsigned is refused like any request.
    let (s, _, _) = send(&app, &slack_url, &signed[..2], body).await;
    assert_eq!(s, 401);
    // Slack's ssl_check probe (slash command URLs) carries nothing: answered as it is.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let (s, _, text) = send(&app, &slack_url, &form, "ssl_check=1&token=legacy").await;
    assert_eq!((s, text.as_str()), (200, ""));

    // Zoom endpoint.url_validation.
    let (zoom, zoom_url, _) =
        source_with_endpoint(&app, &rx, "zoom", json!({"secret": "z00m"}), "/hs").await;
    let body = r#"{"event":"endpoint.url_validation","payload":{"plainToken":"pl41n"}}"#;
    let base = format!("v0:{now}:{body}");
    let sig = format!("v0={}", hmac_hex("z00m", &[base.as_bytes()]));
    let (s, _, text) = send(
        &app,
        &zoom_url,
        &[
            ("x-zm-request-timestamp", now.as_str()),
            ("x-zm-signature", sig.as_str()),
        ],
        body,
    )
    .await;
    assert_eq!(s, 200, "{text}");
    let v: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(v["plainToken"], "pl41n");
    assert_eq!(v["encryptedToken"], hmac_hex("z00m", &[b"pl41n"]));

    // Twitch webhook_callback_verification.
    let (twitch, twitch_url, _) =
        source_with_endpoint(&app, &rx, "twitch", json!({"secret": "tw1tch"}), "/hs").await;
    let body = r#"{"challenge":"tw-ch","subscription":{"id":"s"}}"#;
    let stamp = time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap();
    let sig = format!(
        "sha256={}",
        hmac_hex("tw1tch", &[b"m-1", stamp.as_bytes(), body.as_bytes()])
    );
    let (s, _, text) = send(
        &app,
        &twitch_url,
        &[
            ("twitch-eventsub-message-id", "m-1"),
            ("twitch-eventsub-message-timestamp", stamp.as_str()),
            ("twitch-eventsub-message-signature", sig.as_str()),
            (
                "twitch-eventsub-message-type",
                "webhook_callback_verification",
            ),
        ],
        body,
    )
    .await;
    assert_eq!((s, text.as_str()), (200, "tw-ch"));

    for source in [slack, zoom, twitch] {
        assert!(messages_of(&app, &source).await.is_empty(), "{source}");
    }
    assert!(rx.received("/hs").is_empty());
}

async fn a_rotated_out_receive_url_keeps_working(backend: Backend) {
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let (id, old_url, _) =
        source_with_endpoint(&app, &rx, "github", json!({"secret": "s"}), "/rot").await;
    let (s, v) = app
        .post(&format!("{SOURCES}/{id}/token/rotate"), json!({}))
        .await;
    assert_eq!(s, 200, "{v}");
    let new_url = v["ingestUrl"].as_str().unwrap().to_owned();
    assert_ne!(new_url, old_url);
    for (i, url) in [&old_url, &new_url].into_iter().enumerate() {
        let (s, _, text) = github(&app, url, "s", &format!("r-{i}"), "{}").await;
        assert_eq!(s, 204, "{url}: {text}");
    }
    rx.wait_for("/rot", 2, WAIT).await;
}

/// A request signed by a provider's own library (see tests/oracles).
#[derive(serde::Deserialize)]
struct Oracle {
    provider: String,
    library: String,
    secret: String,
    headers: BTreeMap<String, String>,
    body: String,
    /// When it was signed (Unix seconds).
    now: i64,
    #[serde(default)]
    event_id: Option<String>,
}

fn oracles() -> Option<Vec<Oracle>> {
    let path = std::env::var("HOOKD_ORACLE_REQUESTS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/oracles/requests.json"
        )
        .to_owned()
    });
    match std::fs::read_to_string(&path) {
        Ok(text) => Some(serde_json::from_str(&text).expect("oracle requests parse")),
        Err(e) => {
            assert!(
                std::env::var("HOOKD_REQUIRE_ORACLES").as_deref() != Ok("1"),
                "HOOKD_REQUIRE_ORACLES=1 but {path} cannot be read ({e})"
            );
            eprintln!("skipped: no oracle requests at {path} (run tests/oracles/run.sh)");
            None
        }
    }
}

async fn oracle_requests_are_accepted_once_and_replays_and_tampering_refused(backend: Backend) {
    let Some(requests) = oracles() else { return };
    let Some(app) = spawn_on(backend, |_| {}).await else {
        return;
    };
    let rx = Receiver::start().await;
    let mut checked = 0;
    for (i, o) in requests.iter().enumerate() {
        // Twilio signs the URL it calls: its oracle URL is not this server's (the
        // verifier's oracle test covers it).
        let source_type = match o.provider.as_str() {
            "github" => "github",
            "stripe" => "stripe",
            "standard_webhooks" => "svix",
            "slack" => "slack",
            "paddle" => "paddle",
            "linear" => "linear",
            "shopify" => "shopify",
            _ => continue,
        };
        let what = format!("{} ({})", o.provider, o.library);
        // Signed at a fixed time: allow for the time since.
        let age = (hookd_core::Timestamp::now().as_secs() - o.now).abs();
        let config = json!({"secret": o.secret, "toleranceSecs": age + 600});
        let path = format!("/oracle-{i}");
        let (id, url, secret) = source_with_endpoint(&app, &rx, source_type, config, &path).await;
        let headers: Vec<(&str, &str)> = o
            .headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let (s, first, text) = send(&app, &url, &headers, o.body.clone()).await;
        assert_eq!(s, 204, "{what}: {text}");
        let got = rx.wait_for(&path, 1, WAIT).await;
        assert_eq!(&got[0].body[..], o.body.as_bytes(), "{what}");
        verify_forwarded(&secret, &got[0]);
        // The provider's headers travel under their own names, except the Standard
        // Webhooks ones, whose names hookd's own signature uses.
        for (name, value) in &o.headers {
            if name.starts_with("webhook-") || name.starts_with("svix-") {
                // hookd's own `webhook-*` were checked above; no `svix-*` goes along.
                let svix = name.replace("webhook-", "svix-");
                assert!(
                    !got[0].headers.contains_key(&svix),
                    "{what}: {svix} forwarded"
                );
            } else {
                assert_eq!(header(&got[0], name), value, "{what}: {name} forwarded");
            }
        }

        let (s, again, _) = send(&app, &url, &headers, o.body.clone()).await;
        assert_eq!(s, 204, "{what}");
        if let Some(event_id) = &o.event_id {
            assert_eq!(again["x-hookd-duplicate"], "true", "{what}: a replay");
            assert_eq!(again["x-hookd-msg-id"], first["x-hookd-msg-id"], "{what}");
            assert_eq!(header(&got[0], "x-hookd-provider-event-id"), event_id);
            assert_eq!(messages_of(&app, &id).await.len(), 1, "{what}");
        }

        let mut tampered = o.body.clone().into_bytes();
        let last = tampered.len() - 2;
        tampered[last] ^= 1;
        let (s, _, text) = send(&app, &url, &headers, tampered).await;
        assert_eq!(s, 401, "{what}: {text}");
        checked += 1;
    }
    assert!(
        checked >= 8,
        "oracle requests for github, stripe, svix, slack, paddle, linear and shopify"
    );
}
