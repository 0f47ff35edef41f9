//! A small client of hookd's management API: every request carries the admin token,
//! bodies go out and come back as JSON. The same for a server started in the test's
//! process and for a `hookd serve` process.

use crate::wait;
use serde_json::{json, Value};
use std::sync::Mutex;
use std::time::Duration;

/// The management API of one running hookd.
#[derive(Clone)]
pub struct Api {
    pub client: reqwest::Client,
    /// `{root}/api/v1`, which [`Api::call`] paths are relative to.
    pub base: String,
    /// The server's address (`http://127.0.0.1:{port}`), where `/ingest/...` lives.
    pub root: String,
    token: String,
}

impl Api {
    /// A client of the server at `root` (`http://host:port`) with the admin `token`. A
    /// request that takes more than 30 s fails.
    pub fn new(root: &str, token: &str) -> Api {
        Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .expect("a reqwest client"),
            base: format!("{root}/api/v1"),
            root: root.to_owned(),
            token: token.to_owned(),
        }
    }

    /// `path` under `/api/v1`, or under the root when it lives there (`/ingest/…`,
    /// `/metrics`, `/docs`).
    pub fn url(&self, path: &str) -> String {
        if is_root_path(path) {
            format!("{}{path}", self.root)
        } else {
            format!("{}{path}", self.base)
        }
    }

    /// Sends an authenticated request to [`Api::url`]`(path)`; the status and the JSON
    /// body (`Null` if none). Panics if no response came at all.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_url(method, &self.url(path), body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no response: {}", why(&e)))
    }

    /// Like [`Api::call`], for any path under the root (`/api/v1/...` in full, `/ingest/...`).
    pub async fn call_root(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let url = format!("{}{path}", self.root);
        self.call_url(method, &url, body)
            .await
            .unwrap_or_else(|e| panic!("{method} {path}: no response: {}", why(&e)))
    }

    /// Like [`Api::call`], but `None` when the request failed without a response (the
    /// server is down, or did not answer in time).
    pub async fn try_call(&self, method: &str, path: &str, body: Value) -> Option<(u16, Value)> {
        self.call_url(method, &self.url(path), Some(body))
            .await
            .ok()
    }

    async fn call_url(
        &self,
        method: &str,
        url: &str,
        body: Option<Value>,
    ) -> reqwest::Result<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).expect("an HTTP method");
        let mut req = self.client.request(method, url).bearer_auth(&self.token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let text = resp.text().await?;
        Ok((status, serde_json::from_str(&text).unwrap_or(Value::Null)))
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    /// `GET {root}/metrics` with the admin token, read back; panics unless it answers 200.
    pub async fn scrape(&self) -> crate::Scrape {
        let resp = self
            .client
            .get(format!("{}/metrics", self.root))
            .bearer_auth(&self.token)
            .send()
            .await
            .expect("GET /metrics answers");
        let status = resp.status().as_u16();
        let text = resp.text().await.expect("a /metrics body");
        assert_eq!(status, 200, "GET /metrics: {text}");
        crate::Scrape::parse(&text)
    }

    /// The status of `GET /health`, `None` without an answer.
    pub async fn health(&self) -> Option<u16> {
        let resp = self.client.get(self.url("/health")).send().await.ok()?;
        Some(resp.status().as_u16())
    }

    /// Creates an application named "test app"; its id.
    pub async fn create_app(&self) -> String {
        self.create_named_app("test app").await
    }

    /// Creates an application named `name`; its id.
    pub async fn create_named_app(&self, name: &str) -> String {
        let (s, v) = self.post("/app", json!({ "name": name })).await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().expect("an app id").to_owned()
    }

    /// Creates an endpoint from `body`; its id and signing secret.
    pub async fn create_endpoint(&self, app: &str, body: Value) -> (String, String) {
        let id = self.create_endpoint_from(app, body).await;
        let (s, secret) = self.get(&format!("/app/{app}/endpoint/{id}/secret")).await;
        assert_eq!(s, 200, "{secret}");
        (id, secret["key"].as_str().expect("a secret").to_owned())
    }

    /// Creates an endpoint delivering to `url`, every event type; its id.
    pub async fn create_endpoint_to(&self, app: &str, url: &str) -> String {
        self.create_endpoint_from(app, json!({ "url": url })).await
    }

    async fn create_endpoint_from(&self, app: &str, body: Value) -> String {
        let (s, v) = self.post(&format!("/app/{app}/endpoint"), body).await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().expect("an endpoint id").to_owned()
    }

    /// Creates an ingest source of `source_type` verifying with `secret`; its id and its
    /// receive URL (`ingestUrl`).
    pub async fn create_source(&self, source_type: &str, secret: &str) -> (String, String) {
        let body = json!({"name": source_type, "type": source_type, "config": {"secret": secret}});
        let (s, v) = self.post("/ingest/api/v1/source", body).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().expect("a source id").to_owned();
        (
            id,
            v["ingestUrl"].as_str().expect("a receive URL").to_owned(),
        )
    }

    /// Sends a message, which must be accepted (202); its id.
    pub async fn send(&self, app: &str, body: Value) -> String {
        let (s, v) = self.post(&format!("/app/{app}/msg"), body).await;
        assert_eq!(s, 202, "{v}");
        v["id"].as_str().expect("a message id").to_owned()
    }

    /// Sends the `test.event` message numbered `i`; its id if accepted (202), else `None`
    /// (refused, or no answer).
    pub async fn try_send_event(&self, app: &str, i: usize) -> Option<String> {
        let body = json!({"eventType": "test.event", "payload": {"i": i}});
        match self
            .try_call("POST", &format!("/app/{app}/msg"), body)
            .await
        {
            Some((202, m)) => Some(m["id"].as_str().expect("a message id").to_owned()),
            _ => None,
        }
    }

    /// Polls `GET path` until `done(body)` holds, and returns that body; panics after
    /// `limit`, showing the last body. Polling: the server reports no change to the test.
    pub async fn wait_for(
        &self,
        path: &str,
        limit: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let last = Mutex::new(Value::Null);
        let found = wait::try_wait_for_value(limit, wait::Recheck::poll(), || async {
            let (_, v) = self.get(path).await;
            if done(&v) {
                return Some(v);
            }
            *last.lock().unwrap_or_else(|e| e.into_inner()) = v;
            None
        })
        .await;
        found.unwrap_or_else(|| {
            let last = last.lock().unwrap_or_else(|e| e.into_inner());
            panic!("timed out waiting on {path}: {last}")
        })
    }
}

/// A request error with its causes (reqwest's own text alone does not say whether the
/// connection was refused, reset or timed out).
fn why(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    if err.is_timeout() {
        text.push_str(" (timed out)");
    }
    text
}

/// Whether `path` is served from the root rather than under `/api/v1`: the ingest routes,
/// `/metrics`, `/docs`, and the portal's and dashboard's pages.
pub fn is_root_path(path: &str) -> bool {
    path.starts_with("/ingest/")
        || path == "/metrics"
        || path == "/docs"
        || path == "/portal"
        || path.starts_with("/portal/")
        || path == "/ui"
        || path.starts_with("/ui/")
        || path.starts_with("/assets/")
}
