//! The hostile-input suite (issue 12, item 8), on both backends: every route of the router
//! (the table of `access.rs`, which fails when a route is missing from it) × malformed
//! input: hostile path segments (NUL, invalid UTF-8, encoded slashes and dots, very long
//! ids), hostile query parameters, malformed JSON and raw bytes, every common field set to
//! every wrong JSON type, oversized fields and bodies, bad content types and credentials;
//! requests no HTTP client library would send, over a raw socket (CR/LF/NUL in headers,
//! raw bytes in the request line, conflicting lengths); and each ingest provider's receive
//! URL × hostile bodies and headers, unsigned (a 4xx) and correctly signed (a 2xx).
//!
//! For every request: never a 5xx, never a hang (each has a client timeout), and every
//! error answer is JSON with `code` and `detail`. The count of requests tried is printed
//! (`cargo test hostile -- --nocapture`). The property test over arbitrary text and bytes
//! is in `hostile_props.rs`, on the same fixture and probe runner.

use crate::access::{Access, ROUTES};
use crate::support::{spawn_on, Backend, Receiver, TestApp, TOKEN};
use hookd_ingest::Provider;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// The ingest crate's test signers, one per provider (written from the providers' docs).
#[allow(dead_code)]
#[path = "../../../hookd-ingest/tests/ingest/common.rs"]
pub(crate) mod signers;

on_both_backends!(every_route_survives_the_hostile_corpus);

/// No answer within this is a hang.
const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
/// hyper answers some malformed requests (400, 414, 431) from its parser, before any
/// handler; the listener gives those a JSON body too (issue 12, part "listener"). Until
/// then, an empty body is tolerated on these statuses only.
const PARSER_ERRORS_HAVE_JSON: bool = false;
pub(crate) const EVENT: &str = "hostile.evt";
/// The servers' body limit here: low, so a body over it is sent whole before the 413
/// (the client then reads the answer rather than a reset connection).
pub(crate) const BODY_LIMIT: usize = 256 * 1024;
const OVER_LIMIT: usize = BODY_LIMIT + 1024;

/// One application's resources, the ids put into route patterns.
pub(crate) struct Fixture {
    pub app_id: String,
    pub endpoint_id: String,
    pub msg_id: String,
    pub attempt_id: String,
    pub task_id: String,
    pub source_id: String,
    pub ingest_endpoint_id: String,
    pub receiver: Receiver,
}

pub(crate) async fn fixture(app: &TestApp) -> Fixture {
    let receiver = Receiver::start().await;
    let (s, v) = app
        .post("/event-type", json!({"name": EVENT, "description": "d"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = app
        .post("/app", json!({"name": "hostile", "uid": "hostile"}))
        .await;
    assert_eq!(s, 201, "{v}");
    let app_id = v["id"].as_str().unwrap().to_owned();
    let (endpoint_id, _) = app
        .create_endpoint(&app_id, json!({"url": receiver.url("/h")}))
        .await;
    let msg_id = app
        .send(&app_id, json!({"eventType": EVENT, "payload": {"n": 1}}))
        .await;
    let attempts = app
        .wait_for(
            &format!("/app/{app_id}/attempt/msg/{msg_id}"),
            Duration::from_secs(15),
            |v| v["data"].as_array().is_some_and(|d| !d.is_empty()),
        )
        .await;
    let attempt_id = attempts["data"][0]["id"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            &format!("/app/{app_id}/endpoint/{endpoint_id}/recover"),
            json!({"since": "2020-01-01T00:00:00Z"}),
        )
        .await;
    assert!(s < 300, "{v}");
    let task_id = v["id"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            "/ingest/api/v1/source",
            json!({"name": "gh", "type": "github", "config": {"secret": "s3cret"}}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    let source_id = v["id"].as_str().unwrap().to_owned();
    let (s, v) = app
        .post(
            &format!("/ingest/api/v1/source/{source_id}/endpoint"),
            json!({"url": receiver.url("/hi")}),
        )
        .await;
    assert_eq!(s, 201, "{v}");
    Fixture {
        app_id,
        endpoint_id,
        msg_id,
        attempt_id,
        task_id,
        source_id,
        ingest_endpoint_id: v["id"].as_str().unwrap().to_owned(),
        receiver,
    }
}

impl Fixture {
    /// `pattern` with the fixture's ids, and `param` (if any) set to `value` as given
    /// (already percent-encoded).
    pub fn path(&self, pattern: &str, param: Option<(&str, &str)>) -> String {
        let mut out = pattern.to_owned();
        if let Some((name, value)) = param {
            out = out.replace(&format!("{{{name}}}"), value);
        }
        let endpoint = if pattern.starts_with("/ingest/api/v1") {
            &self.ingest_endpoint_id
        } else {
            &self.endpoint_id
        };
        out.replace("{app_id}", &self.app_id)
            .replace("{endpoint_id}", endpoint)
            .replace("{msg_id}", &self.msg_id)
            .replace("{attempt_id}", &self.attempt_id)
            .replace("{task_id}", &self.task_id)
            .replace("{source_id}", &self.source_id)
            .replace("{name}", EVENT)
            .replace("{token}", "no-such-token")
    }

    /// A route's sample body from the access table, or `{}`.
    pub fn body(&self, sample: &str) -> String {
        if sample.is_empty() {
            return "{}".into();
        }
        sample
            .replace("{url}", &self.receiver.url("/made"))
            .replace("{event}", EVENT)
    }
}

/// What a request must get.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Expect {
    /// Anything but a 5xx (or a hang).
    NoServerError,
    /// A 2xx: a correctly signed provider request, whatever its content.
    Success,
    /// A 4xx: a provider request that is not correctly signed.
    ClientError,
}

/// One request of the corpus.
pub(crate) struct Probe {
    pub label: String,
    pub method: &'static str,
    /// Path under `/api/v1`, or from the root when it starts with `/ingest/`.
    pub path: String,
    pub headers: Vec<(HeaderName, HeaderValue)>,
    pub body: Option<Vec<u8>>,
    pub expect: Expect,
    /// Send without the admin token.
    pub anonymous: bool,
}

impl Probe {
    pub fn new(label: impl Into<String>, method: &'static str, path: String) -> Self {
        Self {
            label: label.into(),
            method,
            path,
            headers: Vec::new(),
            body: None,
            expect: Expect::NoServerError,
            anonymous: false,
        }
    }

    pub fn json(mut self, body: impl Into<Vec<u8>>) -> Self {
        self.headers.push((
            reqwest::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        ));
        self.body = Some(body.into());
        self
    }
}

/// Sends every probe (at most [`CONCURRENCY`] at once); returns what went wrong.
pub(crate) async fn run(app: &TestApp, probes: Vec<Probe>) -> Vec<String> {
    // A connection per request: one probe's broken connection never fails the next.
    let client = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .pool_max_idle_per_host(0)
        .build()
        .unwrap();
    let queue = Arc::new(Mutex::new(VecDeque::from(probes)));
    let failures = Arc::new(Mutex::new(Vec::new()));
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (queue, failures, client) = (queue.clone(), failures.clone(), client.clone());
        let base = app.url("");
        let root = app.url("/ingest/").trim_end_matches("/ingest/").to_owned();
        workers.spawn(async move {
            loop {
                let Some(p) = queue.lock().unwrap().pop_front() else {
                    return;
                };
                let url = if p.path.starts_with("/ingest/") {
                    format!("{root}{}", p.path)
                } else {
                    format!("{base}{}", p.path)
                };
                if let Some(why) = send(&client, &url, &p).await {
                    failures.lock().unwrap().push(format!(
                        "{} {} [{}]: {why}",
                        p.method,
                        short(&p.path),
                        p.label
                    ));
                }
            }
        });
    }
    while let Some(done) = workers.join_next().await {
        done.unwrap();
    }
    let out = failures.lock().unwrap().clone();
    out
}

/// Sends one probe; `Some(why)` when its answer breaks the rules.
async fn send(client: &reqwest::Client, url: &str, p: &Probe) -> Option<String> {
    let method = reqwest::Method::from_bytes(p.method.as_bytes()).unwrap();
    let mut req = client.request(method, url);
    if !p.anonymous {
        req = req.bearer_auth(TOKEN);
    }
    for (k, v) in &p.headers {
        req = req.header(k, v);
    }
    if let Some(body) = &p.body {
        req = req.body(body.clone());
    }
    let resp = match req.send().await {
        Ok(r) => r,
        Err(e) if e.is_timeout() => return Some("no answer in time (a hang)".into()),
        Err(e) => return Some(format!("no answer: {e}")),
    };
    let status = resp.status().as_u16();
    let body = match resp.bytes().await {
        Ok(b) => b,
        Err(e) => return Some(format!("{status}, body unreadable: {e}")),
    };
    judge(status, &body, p.expect)
}

/// Checks an answer against the rules; `Some(why)` when it breaks one.
pub(crate) fn judge(status: u16, body: &[u8], expect: Expect) -> Option<String> {
    let text = || String::from_utf8_lossy(&body[..body.len().min(300)]).into_owned();
    if status >= 500 {
        return Some(format!("server error {status}: {}", text()));
    }
    match expect {
        Expect::Success if !(200..300).contains(&status) => {
            return Some(format!("expected a 2xx, got {status}: {}", text()))
        }
        Expect::ClientError if !(400..500).contains(&status) => {
            return Some(format!("expected a 4xx, got {status}: {}", text()))
        }
        _ => {}
    }
    if status >= 400 {
        let parsed: Option<Value> = serde_json::from_slice(body).ok();
        let well_formed = parsed.as_ref().is_some_and(|v| {
            v["code"].as_str().is_some_and(|c| !c.is_empty())
                && (v["detail"].is_string() || v["detail"].is_array())
        });
        if !well_formed {
            return Some(format!(
                "{status} without a JSON code and detail: {}",
                text()
            ));
        }
    }
    None
}

/// A long path shortened for a failure message.
fn short(path: &str) -> String {
    if path.len() <= 160 {
        return path.to_owned();
    }
    let mut end = 150;
    while !path.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…({} bytes)", &path[..end], path.len())
}

/// Path segments, already percent-encoded as sent.
fn hostile_segments() -> Vec<String> {
    let mut out: Vec<String> = [
        "%00",
        "a%00b",
        "%ff",
        "%c3%28",
        "%c0%af",
        "%ed%a0%80",
        "%2F",
        "a%2Fb",
        "%2e%2e",
        "..%2F..%2Fapp",
        "%5C",
        "%20",
        "%0d%0aX-Injected:%201",
        "%E2%80%AE",
        "%F0%9F%98%80",
        "%25",
        "%27%20OR%201=1--",
        "app_0000000000000000000000",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push("x".repeat(4096));
    out.push("%00".repeat(500));
    out
}

/// Query strings (without `?`), as sent.
fn hostile_queries() -> Vec<String> {
    let mut out: Vec<String> = [
        "limit=%00",
        "limit=-1",
        "limit=0",
        "limit=99999999999999999999",
        "limit=abc",
        "iterator=%00",
        "iterator=%ff%fe",
        "iterator=msg_%00",
        "order=sideways",
        "before=%00",
        "after=not-a-time",
        "since=2020-13-45T99:00:00Z",
        "until=%00",
        "channel=a%00b",
        "event_types=a%00b,%ff",
        "with_content=maybe",
        "status=999",
        "tag=%00",
        "get_if_exists=%ff",
        "unknown=%00&other=%ff",
        "limit=1&limit=2",
        "%00=x",
        "&&&==&",
        "a[b]=c&a[]=d",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    out.push(format!("iterator={}", "z".repeat(5000)));
    out
}

/// Whole bodies that are not what any route takes.
fn hostile_bodies() -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = [
        &b""[..],
        b"{",
        b"}",
        b"[]",
        b"null",
        b"\"str\"",
        b"1e999",
        b"{\"a\":1,}",
        b"{\"a\" 1}",
        b"\xff\xfe\x00",
        b"{\"name\":\"\xff\"}",
        b"{\"name\":\"a\x00b\"}",
        b"{\"name\":\"\\ud800\"}",
        b"{\"name\":\"a\",\"name\":\"b\"}",
        b"\xef\xbb\xbf{\"name\":\"bom\"}",
    ]
    .iter()
    .map(|b| b.to_vec())
    .collect();
    out.push("[".repeat(100_000).into_bytes());
    out.push(format!("{}1{}", "{\"a\":".repeat(300), "}".repeat(300)).into_bytes());
    // Over the body limit.
    out.push(format!("{{\"name\":\"{}\"}}", "x".repeat(OVER_LIMIT)).into_bytes());
    out
}

/// Fields of the API's bodies, each set in turn to every [`hostile_values`].
const FIELDS: &[&str] = &[
    "name",
    "uid",
    "description",
    "url",
    "metadata",
    "eventType",
    "payload",
    "eventId",
    "channels",
    "tags",
    "filterTypes",
    "headers",
    "key",
    "since",
    "throttleRate",
    "disabled",
    "schemas",
    "config",
    "type",
    "application",
    "expiry",
    "secret",
    "version",
    "archived",
    "featureFlag",
];

/// How many of [`hostile_values`] each field of each route gets.
const VALUES_PER_FIELD: usize = 4;

fn hostile_values() -> Vec<Value> {
    vec![
        Value::Null,
        json!(1e300),
        json!(true),
        json!(""),
        json!("\u{0}"),
        json!("y".repeat(20_000)),
        json!([]),
        json!({}),
        json!({"k": "\u{0}", "\u{0}": ["\u{0}"]}),
    ]
}

/// The corpus over the API's routes: (everything but deletes, deletes).
fn route_probes(fx: &Fixture) -> (Vec<Probe>, Vec<Probe>) {
    let (mut first, mut last) = (Vec::new(), Vec::new());
    for (route_index, route) in ROUTES.iter().filter(|r| r.2 != Access::Receive).enumerate() {
        let (method, pattern) = (route.0, route.1);
        let valid_path = fx.path(pattern, None);
        let sample = fx.body(route.3);
        let has_body = matches!(method, "POST" | "PUT" | "PATCH");
        let with_sample = |p: Probe| if has_body { p.json(sample.clone()) } else { p };
        let mut probes = Vec::new();
        // Each path parameter in turn.
        let params: Vec<&str> = pattern
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        for param in &params {
            for seg in hostile_segments() {
                let path = fx.path(pattern, Some((param, &seg)));
                probes.push(with_sample(Probe::new(
                    format!("path {param}"),
                    method,
                    path,
                )));
            }
        }
        for q in hostile_queries() {
            let path = format!("{valid_path}?{q}");
            probes.push(with_sample(Probe::new("query", method, path)));
        }
        if has_body {
            for body in hostile_bodies() {
                probes.push(Probe::new("body", method, valid_path.clone()).json(body));
            }
            let base: Value = serde_json::from_str(&sample).unwrap();
            let values = hostile_values();
            for (i, field) in FIELDS.iter().enumerate() {
                // Every field on every route, with a share of the values that rotates
                // from route to route: every value meets every field across the table.
                let start = (i + route_index * VALUES_PER_FIELD) % values.len();
                for value in values.iter().cycle().skip(start).take(VALUES_PER_FIELD) {
                    let value = value.clone();
                    let mut body = base.clone();
                    body[*field] = value;
                    probes.push(
                        Probe::new(format!("field {field}"), method, valid_path.clone())
                            .json(body.to_string()),
                    );
                }
            }
            for ct in [
                "text/plain",
                "application/x-www-form-urlencoded",
                "multipart/form-data; boundary=x",
                "application/json; charset=utf-16",
                "application/\u{ff}json",
            ] {
                let mut p = Probe::new(format!("content-type {ct}"), method, valid_path.clone());
                p.headers.push((
                    reqwest::header::CONTENT_TYPE,
                    HeaderValue::from_bytes(ct.as_bytes()).unwrap(),
                ));
                p.body = Some(sample.clone().into_bytes());
                probes.push(p);
            }
        }
        // Credentials and keys a client library would still send.
        for auth in [
            &b"Bearer"[..],
            b"Bearer \xff\xfe",
            b"Basic dXNlcjpwYXNz",
            b"Bearer appsk_\xff",
        ] {
            let mut p = with_sample(Probe::new("authorization", method, valid_path.clone()));
            p.anonymous = true;
            p.headers.push((
                reqwest::header::AUTHORIZATION,
                HeaderValue::from_bytes(auth).unwrap(),
            ));
            probes.push(p);
        }
        let mut long = with_sample(Probe::new("long token", method, valid_path.clone()));
        long.anonymous = true;
        long.headers.push((
            reqwest::header::AUTHORIZATION,
            HeaderValue::from_str(&format!("Bearer {}", "t".repeat(6000))).unwrap(),
        ));
        probes.push(long);
        if method == "POST" {
            for key in [&b"\xff\xfe"[..], b"", &[b'k'; 300][..]] {
                let mut p = with_sample(Probe::new("idempotency-key", method, valid_path.clone()));
                p.headers.push((
                    HeaderName::from_static("idempotency-key"),
                    HeaderValue::from_bytes(key).unwrap(),
                ));
                probes.push(p);
            }
        }
        if method == "DELETE" {
            last.extend(probes);
        } else {
            first.extend(probes);
        }
    }
    (first, last)
}

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
pub(crate) async fn receive_sources(app: &TestApp, fx: &Fixture) -> Vec<Source> {
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
fn receive_probes(sources: &[Source]) -> Vec<Probe> {
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

/// Requests written byte by byte, which no client library sends: (label, bytes).
fn raw_requests(fx: &Fixture, auth: &str) -> Vec<(String, Vec<u8>)> {
    let app = format!("/api/v1/app/{}", fx.app_id);
    let head = |line: &str, extra: &[u8]| {
        let mut r = format!("{line}\r\nhost: h\r\n{auth}\r\nconnection: close\r\n").into_bytes();
        r.extend_from_slice(extra);
        r.extend_from_slice(b"\r\n");
        r
    };
    // A request line holding bytes a `&str` cannot.
    let head_bytes = |line: &[&[u8]]| {
        let mut r = line.concat();
        r.extend_from_slice(
            format!("\r\nhost: h\r\n{auth}\r\nconnection: close\r\n\r\n").as_bytes(),
        );
        r
    };
    let get = format!("GET {app} HTTP/1.1");
    let post = "POST /api/v1/app HTTP/1.1".to_owned();
    vec![
        ("bare CR in a value".into(), head(&get, b"x-a: a\rb\r\n")),
        ("bare LF in a value".into(), head(&get, b"x-a: a\nb\r\n")),
        ("NUL in a value".into(), head(&get, b"x-a: a\0b\r\n")),
        ("space in a name".into(), head(&get, b"x a: b\r\n")),
        ("no colon".into(), head(&get, b"x-a\r\n")),
        ("obs-fold".into(), head(&get, b"x-a: a\r\n b\r\n")),
        (
            "obs-text token".into(),
            head(&get, b"authorization: Bearer \xff\xfe\r\n"),
        ),
        (
            "raw byte in path".into(),
            head_bytes(&[b"GET ", app.as_bytes(), b"\xff HTTP/1.1"]),
        ),
        (
            "NUL in path".into(),
            head_bytes(&[b"GET /api/v1/app/a\0b HTTP/1.1"]),
        ),
        (
            "space in path".into(),
            head(&format!("GET {app} x HTTP/1.1"), b""),
        ),
        (
            "bad method".into(),
            head(&format!("G@T {app} HTTP/1.1"), b""),
        ),
        ("asterisk".into(), head("GET * HTTP/1.1", b"")),
        (
            "absolute form".into(),
            head(&format!("GET http://evil{app} HTTP/1.1"), b""),
        ),
        ("http/1.0".into(), head(&format!("GET {app} HTTP/1.0"), b"")),
        ("http/9".into(), head(&format!("GET {app} HTTP/9.9"), b"")),
        (
            "long header".into(),
            head(&get, format!("x-a: {}\r\n", "h".repeat(200_000)).as_bytes()),
        ),
        (
            "long uri".into(),
            head(&format!("GET {app}/{} HTTP/1.1", "u".repeat(100_000)), b""),
        ),
        (
            "two lengths".into(),
            [
                head(
                    &post,
                    b"content-length: 2\r\ntransfer-encoding: chunked\r\n",
                ),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "negative length".into(),
            head(&post, b"content-length: -1\r\n"),
        ),
        (
            "length not a number".into(),
            head(&post, b"content-length: abc\r\n"),
        ),
        (
            "length twice".into(),
            [
                head(&post, b"content-length: 2\r\ncontent-length: 3\r\n"),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "bad chunk".into(),
            [
                head(&post, b"transfer-encoding: chunked\r\n"),
                b"zz\r\n{}\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "chunked, identity".into(),
            [
                head(&post, b"transfer-encoding: chunked, identity\r\n"),
                b"2\r\n{}\r\n0\r\n\r\n".to_vec(),
            ]
            .concat(),
        ),
        (
            "injected idempotency key".into(),
            [
                head(
                    &post,
                    b"idempotency-key: a\r\nx-injected: 1\r\ncontent-length: 2\r\n",
                ),
                b"{}".to_vec(),
            ]
            .concat(),
        ),
        (
            "body shorter than its length".into(),
            [head(&post, b"content-length: 100\r\n"), b"{}".to_vec()].concat(),
        ),
        (
            "LF line ends".into(),
            format!("GET {app} HTTP/1.1\nhost: h\n{auth}\nconnection: close\n\n").into_bytes(),
        ),
        (
            "NUL in a receive header".into(),
            head(
                "POST /ingest/no-such-token HTTP/1.1",
                b"x-hub-signature-256: a\0b\r\ncontent-length: 0\r\n",
            ),
        ),
    ]
}

/// Writes `request`, closes the writing half, and reads the answer to its end; returns
/// (status, body), or `None` when the server closed without answering.
async fn raw_exchange(addr: &str, request: &[u8]) -> Result<Option<(u16, Vec<u8>)>, String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(addr)
            .await
            .map_err(|e| e.to_string())?;
        // The server may answer and close before all of it is written.
        let _ = conn.write_all(request).await;
        let _ = conn.shutdown().await;
        let mut answer = Vec::new();
        let _ = conn.read_to_end(&mut answer).await;
        Ok::<_, String>(answer)
    };
    let answer = tokio::time::timeout(CLIENT_TIMEOUT, exchange)
        .await
        .map_err(|_| "no answer in time (a hang)".to_owned())??;
    if answer.is_empty() {
        return Ok(None);
    }
    let text = String::from_utf8_lossy(&answer);
    let status = text
        .strip_prefix("HTTP/1.1 ")
        .or_else(|| text.strip_prefix("HTTP/1.0 "))
        .and_then(|rest| rest.get(..3))
        .and_then(|s| s.parse().ok())
        .ok_or_else(|| format!("not an HTTP answer: {:?}", &text[..text.len().min(100)]))?;
    let body_at = answer
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map_or(answer.len(), |i| i + 4);
    Ok(Some((status, answer[body_at..].to_vec())))
}

async fn run_raw(app: &TestApp, fx: &Fixture) -> (usize, Vec<String>) {
    let addr = app
        .base
        .strip_prefix("http://")
        .and_then(|s| s.split('/').next())
        .unwrap()
        .to_owned();
    let requests = raw_requests(fx, &format!("authorization: Bearer {TOKEN}"));
    let mut failures = Vec::new();
    for (label, request) in &requests {
        match raw_exchange(&addr, request).await {
            Err(why) => failures.push(format!("raw [{label}]: {why}")),
            // Closing a connection it cannot parse is an answer, not a hang.
            Ok(None) => {}
            Ok(Some((status, body))) => {
                let parser_level = matches!(status, 400 | 414 | 431) && body.is_empty();
                let why = if parser_level && !PARSER_ERRORS_HAVE_JSON {
                    None
                } else {
                    judge(status, &body, Expect::NoServerError)
                };
                if let Some(why) = why {
                    failures.push(format!("raw [{label}]: {why}"));
                }
            }
        }
    }
    (requests.len(), failures)
}

async fn every_route_survives_the_hostile_corpus(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| c.max_body_bytes = BODY_LIMIT).await else {
        return;
    };
    let started = std::time::Instant::now();
    let fx = fixture(&app).await;
    let sources = receive_sources(&app, &fx).await;
    let (first, last) = route_probes(&fx);
    let receive = receive_probes(&sources);
    let tried = first.len() + last.len() + receive.len();
    let mut failures = run(&app, receive).await;
    failures.extend(run(&app, first).await);
    failures.extend(run(&app, last).await);
    let (raw_tried, raw_failures) = run_raw(&app, &fx).await;
    failures.extend(raw_failures);
    let server_errors = failures
        .iter()
        .filter(|f| f.contains("server error"))
        .count();
    println!(
        "hostile-input suite on {backend:?}: {} requests tried ({} over a raw socket), \
         5xx seen: {server_errors}, rule breaks: {}, in {:.1} s",
        tried + raw_tried,
        raw_tried,
        failures.len(),
        started.elapsed().as_secs_f64()
    );
    assert!(
        failures.is_empty(),
        "{} of {} hostile requests broke the rules; the first ones:\n{}",
        failures.len(),
        tried + raw_tried,
        failures
            .iter()
            .take(40)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}
