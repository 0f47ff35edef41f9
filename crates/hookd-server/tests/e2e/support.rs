//! Test support: `spawn_app` starts hookd on port 0; `Receiver` is a webhook endpoint whose
//! answers are scripted per path and which records every request it gets.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use hookd_server::config::{Config, Database, Layer};
use serde_json::{json, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;

pub const TOKEN: &str = "test-admin-token-0123456789";

/// A running hookd.
pub struct TestApp {
    pub base: String,
    pub client: reqwest::Client,
    shutdown: CancellationToken,
    handle: Option<tokio::task::JoinHandle<anyhow::Result<()>>>,
    dir: Option<tempfile::TempDir>,
    /// The PostgreSQL schema of a server started by [`spawn_on`], dropped after it.
    schema: Option<crate::pg::PgSchema>,
}

/// Starts hookd with a short retry schedule and loopback allowed, after `tweak`.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    start(config, dir).await
}

/// Starts hookd again on the data directory of a stopped one.
pub async fn restart_in(dir: tempfile::TempDir) -> TestApp {
    let config = test_config(dir.path());
    start(config, dir).await
}

/// Starts hookd again on the data directory of a stopped one, after `tweak`.
pub async fn restart_in_with(dir: tempfile::TempDir, tweak: impl FnOnce(&mut Config)) -> TestApp {
    let mut config = test_config(dir.path());
    tweak(&mut config);
    start(config, dir).await
}

fn test_config(dir: &std::path::Path) -> Config {
    let flags = Layer {
        database_url: Some(format!("sqlite://{}", dir.join("hookd.db").display())),
        data_dir: Some(dir.to_path_buf()),
        admin_token: Some(TOKEN.into()),
        allowed_networks: Some("127.0.0.0/8,::1/128".into()),
        retry_schedule: Some("0.2,0.2".into()),
        request_timeout: Some(5.0),
        ..Default::default()
    };
    let mut config = Config::resolve(Layer::default(), flags).unwrap();
    config.poll_interval_ms = Duration::from_millis(20);
    config.shutdown_grace = Duration::from_secs(2);
    config
}

/// The database a test runs on.
#[derive(Clone, Copy, Debug)]
pub enum Backend {
    Sqlite,
    /// A schema of its own on `HOOKD_TEST_POSTGRES_URL`, dropped with the [`TestApp`].
    Postgres,
}

/// Starts hookd on `backend` after `tweak`; `None` (after saying so) when the backend is
/// PostgreSQL and no test server is configured.
pub async fn spawn_on(backend: Backend, tweak: impl FnOnce(&mut Config)) -> Option<TestApp> {
    match backend {
        Backend::Sqlite => Some(spawn_app_with(tweak).await),
        Backend::Postgres => {
            let schema = crate::pg::PgSchema::create("spawn_on").await?;
            let url = schema.url.clone();
            let mut app = spawn_app_with(|c| {
                c.database_url = Some(Database::Postgres(url));
                tweak(c);
            })
            .await;
            app.schema = Some(schema);
            Some(app)
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// The main key of servers on PostgreSQL (which has no data directory to keep one in).
const PG_MAIN_KEY: &str = "aG9va2QtZTJlLXRlc3QtbWFpbi1rZXktMDEyMzQ1Njc=";

async fn start(mut config: Config, dir: tempfile::TempDir) -> TestApp {
    if matches!(config.database(), Database::Postgres(_)) && config.main_key.is_none() {
        config.main_key = Some(hookd_store::secrets::MainKey::from_base64(PG_MAIN_KEY).unwrap());
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}/api/v1", listener.local_addr().unwrap());
    let shutdown = CancellationToken::new();
    let handle = tokio::spawn(hookd_server::run(config, listener, shutdown.clone()));
    TestApp {
        base,
        client: reqwest::Client::new(),
        shutdown,
        handle: Some(handle),
        dir: Some(dir),
        schema: None,
    }
}

impl TestApp {
    /// `path` under `/api/v1`, or as given when it is an ingest API path (`/ingest/…`).
    pub fn url(&self, path: &str) -> String {
        if path.starts_with("/ingest/") {
            let root = self.base.strip_suffix("/api/v1").unwrap_or(&self.base);
            return format!("{root}{path}");
        }
        format!("{}{}", self.base, path)
    }

    /// Sends an authenticated request and returns (status, JSON body or Null).
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        let mut req = self
            .client
            .request(method.parse().unwrap(), self.url(path))
            .bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status().as_u16();
        let text = resp.text().await.unwrap();
        (status, serde_json::from_str(&text).unwrap_or(Value::Null))
    }

    pub async fn post(&self, path: &str, body: Value) -> (u16, Value) {
        self.call("POST", path, Some(body)).await
    }

    pub async fn get(&self, path: &str) -> (u16, Value) {
        self.call("GET", path, None).await
    }

    /// Creates an app and returns its id.
    pub async fn create_app(&self) -> String {
        let (s, v) = self.post("/app", json!({"name": "test app"})).await;
        assert_eq!(s, 201, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Creates an endpoint and returns (id, secret).
    pub async fn create_endpoint(&self, app: &str, body: Value) -> (String, String) {
        let (s, v) = self.post(&format!("/app/{app}/endpoint"), body).await;
        assert_eq!(s, 201, "{v}");
        let id = v["id"].as_str().unwrap().to_owned();
        let (s, secret) = self.get(&format!("/app/{app}/endpoint/{id}/secret")).await;
        assert_eq!(s, 200, "{secret}");
        (id, secret["key"].as_str().unwrap().to_owned())
    }

    /// Sends a message and returns its id.
    pub async fn send(&self, app: &str, body: Value) -> String {
        let (s, v) = self.post(&format!("/app/{app}/msg"), body).await;
        assert_eq!(s, 202, "{v}");
        v["id"].as_str().unwrap().to_owned()
    }

    /// Polls `GET path` until `done(body)` holds, failing after `timeout`.
    pub async fn wait_for(
        &self,
        path: &str,
        timeout: Duration,
        done: impl Fn(&Value) -> bool,
    ) -> Value {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let (_, v) = self.get(path).await;
            if done(&v) {
                return v;
            }
            assert!(
                tokio::time::Instant::now() < deadline,
                "timed out waiting on {path}: {v}"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Stops the server gracefully and returns its data directory.
    pub async fn stop(mut self) -> tempfile::TempDir {
        self.shutdown.cancel();
        self.handle.take().unwrap().await.unwrap().unwrap();
        self.dir.take().unwrap()
    }
}

impl Drop for TestApp {
    fn drop(&mut self) {
        self.shutdown.cancel();
    }
}

/// One request the receiver got.
#[derive(Clone, Debug)]
pub struct Received {
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When the request arrived (before any scripted delay).
    pub arrived_at: std::time::Instant,
}

/// A scripted answer.
#[derive(Clone, Debug)]
pub struct Answer {
    pub status: u16,
    pub headers: Vec<(&'static str, String)>,
    pub delay: Duration,
}

impl Answer {
    pub fn status(status: u16) -> Self {
        Self {
            status,
            headers: Vec::new(),
            delay: Duration::ZERO,
        }
    }

    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }

    pub fn delay(mut self, d: Duration) -> Self {
        self.delay = d;
        self
    }
}

#[derive(Default)]
struct ReceiverState {
    got: Mutex<Vec<Received>>,
    /// Per path: answers to give, in order; when empty, `default` (200 unless set).
    script: Mutex<HashMap<String, VecDeque<Answer>>>,
    defaults: Mutex<HashMap<String, Answer>>,
    arrived: Notify,
    /// Per path: requests being answered right now, and the most there ever were.
    concurrency: Mutex<HashMap<String, (usize, usize)>>,
}

/// A webhook receiver on 127.0.0.1 (or the address given), port 0.
#[derive(Clone)]
pub struct Receiver {
    pub base: String,
    state: Arc<ReceiverState>,
}

impl Receiver {
    pub async fn start() -> Self {
        Self::start_on("127.0.0.1:0").await
    }

    /// A receiver bound to `addr`, e.g. `[::1]:0`.
    pub async fn start_on(addr: &str) -> Self {
        let state = Arc::new(ReceiverState::default());
        let listener = tokio::net::TcpListener::bind(addr).await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let app = axum::Router::new()
            .fallback(receive)
            .with_state(state.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { base, state }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Queues answers for the next requests to `path`.
    pub fn script(&self, path: &str, answers: impl IntoIterator<Item = Answer>) {
        self.state
            .script
            .lock()
            .unwrap()
            .entry(path.to_owned())
            .or_default()
            .extend(answers);
    }

    /// The answer for `path` once its script is used up.
    pub fn set_default(&self, path: &str, answer: Answer) {
        self.state
            .defaults
            .lock()
            .unwrap()
            .insert(path.to_owned(), answer);
    }

    pub fn received(&self, path: &str) -> Vec<Received> {
        let got = self.state.got.lock().unwrap();
        got.iter().filter(|r| r.path == path).cloned().collect()
    }

    /// The most requests to `path` that were being answered at the same time.
    pub fn max_concurrent(&self, path: &str) -> usize {
        let c = self.state.concurrency.lock().unwrap();
        c.get(path).map_or(0, |(_, max)| *max)
    }

    pub fn all(&self) -> Vec<Received> {
        self.state.got.lock().unwrap().clone()
    }

    /// Waits until `path` has received at least `n` requests, failing after `timeout`.
    pub async fn wait_for(&self, path: &str, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let notified = self.state.arrived.notified();
            let got = self.received(path);
            if got.len() >= n {
                return got;
            }
            if tokio::time::timeout_at(deadline, notified).await.is_err() {
                panic!(
                    "timed out: {path} received {} of {n}",
                    self.received(path).len()
                );
            }
        }
    }
}

async fn receive(
    State(state): State<Arc<ReceiverState>>,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let path = uri.path().to_owned();
    let arrived_at = std::time::Instant::now();
    {
        let mut c = state.concurrency.lock().unwrap();
        let (now, max) = c.entry(path.clone()).or_default();
        *now += 1;
        *max = (*max).max(*now);
    }
    let answer = {
        let mut script = state.script.lock().unwrap();
        script.get_mut(&path).and_then(VecDeque::pop_front)
    }
    .or_else(|| state.defaults.lock().unwrap().get(&path).cloned())
    .unwrap_or_else(|| Answer::status(200));
    if !answer.delay.is_zero() {
        tokio::time::sleep(answer.delay).await;
    }
    if let Some((now, _)) = state.concurrency.lock().unwrap().get_mut(&path) {
        *now -= 1;
    }
    state.got.lock().unwrap().push(Received {
        path,
        headers,
        body,
        arrived_at,
    });
    state.arrived.notify_waiters();
    let mut resp = StatusCode::from_u16(answer.status).unwrap().into_response();
    for (name, value) in answer.headers {
        resp.headers_mut().insert(name, value.parse().unwrap());
    }
    resp
}
