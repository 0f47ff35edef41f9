//! The hostile-input suite, on both backends: every route of the router
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
//! (`cargo test hostile -- --nocapture`).
//!
//! Layout: this file holds the fixture, the probe runner and the routes' corpus;
//! [`receive`] the providers' receive URLs, [`raw`] the raw-socket requests, and
//! [`props`] the property test over arbitrary text and bytes, on the same fixture and
//! runner.

use crate::access::{Access, ROUTES};
use crate::support::{spawn_on, Backend, TestApp, TOKEN};
use hookd_testkit::Receiver;
use reqwest::header::{HeaderName, HeaderValue};
use serde_json::{json, Value};
use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

mod props;
mod raw;
pub(crate) mod receive;

on_both_backends!(every_route_survives_the_hostile_corpus);

/// No answer within this is a hang.
pub(crate) const CLIENT_TIMEOUT: Duration = Duration::from_secs(20);
/// Requests in flight at once.
const CONCURRENCY: usize = 8;
pub(crate) const EVENT: &str = "hostile.evt";
/// The servers' body limit here: low, so a body over it is sent whole before the 413
/// (the client then reads the answer rather than a reset connection).
pub(crate) const BODY_LIMIT: usize = 256 * 1024;
pub(crate) const OVER_LIMIT: usize = BODY_LIMIT + 1024;

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
    let (source_id, _) = app.create_source("github", "s3cret").await;
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
            .replace("{event_type_name}", EVENT)
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
                let url = if hookd_testkit::api::is_root_path(&p.path) {
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
pub(crate) fn hostile_segments() -> Vec<String> {
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

async fn every_route_survives_the_hostile_corpus(backend: Backend) {
    let Some(app) = spawn_on(backend, |c| c.max_body_bytes = BODY_LIMIT).await else {
        return;
    };
    let started = std::time::Instant::now();
    let fx = fixture(&app).await;
    let sources = receive::sources(&app, &fx).await;
    let (first, last) = route_probes(&fx);
    let receive = receive::probes(&sources);
    let tried = first.len() + last.len() + receive.len();
    let mut failures = run(&app, receive).await;
    failures.extend(run(&app, first).await);
    failures.extend(run(&app, last).await);
    let (raw_tried, raw_failures) = raw::run(&app, &fx).await;
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
