//! No secret or payload in the log at any level, on both backends: `hookd serve` runs
//! with `HOOKD_LOG` asking for `trace` everywhere, naming the crates that would log
//! statement parameters, headers and bodies (tokio-postgres, hyper, h2, axum, reqwest,
//! rustls), while marker strings go through every kind of route as custom header
//! credentials (`authorization`, `x-api-key`, on an endpoint and an ingest endpoint),
//! message and ingest payloads, an idempotency key, endpoint secrets, a source secret,
//! receive tokens (current, rotated-out, unknown) and a rejected body. Then the captured
//! stderr is searched for every marker: none may appear. The log must hold hookd's own
//! debug lines, so the level really was raised.
//!
//! The same run shows the sealed credentials still work: deliveries carry the marker
//! headers, and the rotated-out receive URL is still accepted during its grace.

use crate::support::{github, sqlite_url, Node, TOKEN};
use base64::Engine;
use hookd_testkit::{PgSchema, Receiver};
use serde_json::{json, Value};
use std::time::Duration;

/// Every level, with the crates that log what must never be logged named explicitly.
const LOG: &str =
    "trace,tokio_postgres=trace,postgres_protocol=trace,hyper=trace,hyper_util=trace,h2=trace,\
     axum=trace,axum::rejection=trace,reqwest=trace,rustls=trace,tower=trace,rusqlite=trace";

/// The markers of one run; `secrets()` must not be logged.
struct Markers {
    auth: String,
    api_key: String,
    api_key_patched: String,
    ingest_auth: String,
    payload: String,
    idempotency_key: String,
    source_idempotency_key: String,
    endpoint_secret: String,
    rotated_secret: String,
    source_secret: String,
    ingest_payload: String,
    unknown_token: String,
    rejected_field: String,
}

impl Markers {
    fn new() -> Self {
        let run = format!("{:016x}", rand_u64());
        let m = |what: &str| format!("mk-{what}-{run}");
        Self {
            auth: format!("Bearer {}", m("auth")),
            api_key: m("apikey"),
            api_key_patched: m("apikey2"),
            ingest_auth: m("ingestauth"),
            payload: m("payload"),
            idempotency_key: m("idem"),
            source_idempotency_key: m("srcidem"),
            endpoint_secret: m("epsecret"),
            rotated_secret: m("eprotated"),
            source_secret: m("srcsecret"),
            ingest_payload: m("ingestbody"),
            unknown_token: m("unknowntoken"),
            rejected_field: m("rejected"),
        }
    }

    fn secrets(&self) -> Vec<&str> {
        vec![
            &self.auth,
            &self.api_key,
            &self.api_key_patched,
            &self.ingest_auth,
            &self.payload,
            &self.idempotency_key,
            &self.source_idempotency_key,
            &self.endpoint_secret,
            &self.rotated_secret,
            &self.source_secret,
            &self.ingest_payload,
            &self.unknown_token,
            &self.rejected_field,
        ]
    }
}

fn rand_u64() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(std::process::id().into());
    h.finish()
}

/// `whsec_` with a marker as the key bytes: the base64 text is what a log would show.
fn whsec(marker: &str) -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(marker)
    )
}

/// A small client for the calls below (extra headers, any body).
struct Client {
    http: reqwest::Client,
    root: String,
}

impl Client {
    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_with(method, path, body, &[]).await
    }

    async fn call_with(
        &self,
        method: &str,
        path: &str,
        body: Option<Value>,
        headers: &[(&str, &str)],
    ) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.root))
            .bearer_auth(TOKEN);
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("a response");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Posts `body` to a receive path, signed as GitHub signs with `secret`.
    async fn github(&self, path: &str, secret: &str, body: &str) -> u16 {
        self.http
            .post(format!("{}{path}", self.root))
            .header("content-type", "application/json")
            .header("x-github-event", "push")
            .header("x-github-delivery", format!("d-{}", rand_u64()))
            .header("x-hub-signature-256", github::signature_with(secret, body))
            .body(body.to_owned())
            .send()
            .await
            .expect("a response")
            .status()
            .as_u16()
    }
}

fn path_of(url: &str) -> String {
    let after = url.split_once("://").unwrap().1;
    after[after.find('/').unwrap()..].to_owned()
}

/// Drives every kind of marker through the node and checks what the receiver got;
/// returns the receive tokens (current and rotated-out), markers too.
async fn drive(api: &Client, receiver: &Receiver, m: &Markers) -> Vec<String> {
    // An application and an endpoint with credential headers and a marker secret.
    let (s, app) = api
        .call("POST", "/api/v1/app", Some(json!({"name": "markers"})))
        .await;
    assert_eq!(s, 201, "{app}");
    let app = app["id"].as_str().unwrap().to_owned();
    let (s, ep) = api
        .call(
            "POST",
            &format!("/api/v1/app/{app}/endpoint"),
            Some(json!({
                "url": receiver.url("/app"),
                "secret": whsec(&m.endpoint_secret),
                "headers": {"Authorization": m.auth, "X-Api-Key": m.api_key},
            })),
        )
        .await;
    assert_eq!(s, 201, "{ep}");
    let ep = ep["id"].as_str().unwrap().to_owned();
    let headers = format!("/api/v1/app/{app}/endpoint/{ep}/headers");
    let (s, shown) = api.call("GET", &headers, None).await;
    assert_eq!(s, 200, "{shown}");
    assert_eq!(shown["sensitive"], json!(["Authorization", "X-Api-Key"]));
    let (s, _) = api
        .call(
            "PATCH",
            &headers,
            Some(json!({"headers": {"X-Api-Key": m.api_key_patched}})),
        )
        .await;
    assert_eq!(s, 204);
    let (s, secret) = api
        .call(
            "GET",
            &format!("/api/v1/app/{app}/endpoint/{ep}/secret"),
            None,
        )
        .await;
    assert_eq!(
        (s, secret["key"].as_str()),
        (200, Some(whsec(&m.endpoint_secret).as_str()))
    );

    // A message with a marker payload and idempotency key, delivered with the headers.
    let (s, msg) = api
        .call_with(
            "POST",
            &format!("/api/v1/app/{app}/msg"),
            Some(json!({"eventType": "marker.sent", "payload": {"note": m.payload}})),
            &[("idempotency-key", &m.idempotency_key)],
        )
        .await;
    assert_eq!(s, 202, "{msg}");
    receiver.wait_for("/app", 1, Duration::from_secs(20)).await;
    let arrival = receiver
        .all()
        .into_iter()
        .find(|a| a.path == "/app")
        .unwrap();
    assert_eq!(arrival.headers["authorization"], m.auth.as_str());
    assert_eq!(arrival.headers["x-api-key"], m.api_key_patched.as_str());
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/app/{app}/endpoint/{ep}/secret/rotate"),
            Some(json!({"key": whsec(&m.rotated_secret)})),
        )
        .await;
    assert_eq!(s, 200);
    // A rejected body whose parse error would quote the marker.
    let (s, _) = api
        .call(
            "POST",
            &format!("/api/v1/app/{app}/msg"),
            Some(json!({"eventType": "marker.sent", "payload": {}, "channels": m.rejected_field})),
        )
        .await;
    assert_eq!(s, 422);

    // Ingest: a source with a marker secret (created with an idempotency key, so its
    // response, which shows the receive URL, is stored), an ingest endpoint with a
    // credential header.
    let (s, src) = api
        .call_with(
            "POST",
            "/ingest/api/v1/source",
            Some(json!({"name": "gh", "type": "github", "config": {"secret": m.source_secret}})),
            &[("idempotency-key", &m.source_idempotency_key)],
        )
        .await;
    assert_eq!(s, 201, "{src}");
    let src_id = src["id"].as_str().unwrap().to_owned();
    let first = path_of(src["ingestUrl"].as_str().unwrap());
    let (s, iep) = api
        .call(
            "POST",
            &format!("/ingest/api/v1/source/{src_id}/endpoint"),
            Some(json!({"url": receiver.url("/ingest"), "headers": {"Authorization": m.ingest_auth}})),
        )
        .await;
    assert_eq!(s, 201, "{iep}");
    let body = format!("{{\"zen\": \"{}\"}}", m.ingest_payload);
    assert_eq!(api.github(&first, &m.source_secret, &body).await, 204);
    // A new receive URL; the old one still works during its grace.
    let (s, rotated) = api
        .call(
            "POST",
            &format!("/ingest/api/v1/source/{src_id}/token/rotate"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{rotated}");
    let second = path_of(rotated["ingestUrl"].as_str().unwrap());
    assert_ne!(first, second);
    assert_eq!(api.github(&second, &m.source_secret, &body).await, 204);
    assert_eq!(api.github(&first, &m.source_secret, &body).await, 204);
    let unknown = format!("/ingest/{}", m.unknown_token);
    assert_eq!(api.github(&unknown, &m.source_secret, &body).await, 404);
    // A wrong signature on a real token: rejected and recorded, the token not logged.
    assert_eq!(api.github(&second, "wrong", &body).await, 401);
    receiver
        .wait_for("/ingest", 3, Duration::from_secs(20))
        .await;
    for a in receiver.all().iter().filter(|a| a.path == "/ingest") {
        assert_eq!(a.headers["authorization"], m.ingest_auth.as_str());
    }
    [first, second]
        .iter()
        .map(|p| p.rsplit('/').next().unwrap().to_owned())
        .collect()
}

/// Runs the marker calls against a node on `database_url` and searches its log.
async fn no_marker_in_the_log(database_url: &str) {
    let dir = tempfile::TempDir::new().unwrap();
    let log = dir.path().join("hookd.log");
    let m = Markers::new();
    let receiver = Receiver::start().await;
    let env = [("HOOKD_LOG", LOG), ("HOOKD_RETRY_SCHEDULE", "0.5,0.5")];
    let node = Node::start_logging(database_url, dir.path(), &env, &log).await;
    let api = Client {
        http: reqwest::Client::builder()
            .timeout(Duration::from_secs(30))
            .build()
            .unwrap(),
        root: node.root.clone(),
    };
    let tokens = drive(&api, &receiver, &m).await;
    drop(node);
    let text = std::fs::read_to_string(&log).unwrap();
    assert!(
        text.contains("DEBUG") && text.contains("hookd_delivery"),
        "hookd's own debug lines are in the log, so the level was raised"
    );
    let mut markers: Vec<&str> = m.secrets();
    markers.extend(tokens.iter().map(String::as_str));
    let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
    let encoded = [b64(&m.endpoint_secret), b64(&m.rotated_secret)];
    markers.extend(encoded.iter().map(String::as_str));
    for marker in markers {
        if let Some(line) = text.lines().find(|l| l.contains(marker)) {
            panic!("the log holds {marker:?}: {line}");
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_payload_is_logged_at_trace_on_sqlite() {
    let dir = tempfile::TempDir::new().unwrap();
    let url = sqlite_url(dir.path());
    no_marker_in_the_log(&url).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_secret_or_payload_is_logged_at_trace_on_postgres() {
    let Some(schema) = PgSchema::create().await else {
        return;
    };
    no_marker_in_the_log(schema.url()).await;
}
