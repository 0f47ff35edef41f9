//! What the binary-level tests share: `hookd serve` processes, a recording receiver, a
//! small API client, polling with a deadline, PostgreSQL fixtures (an isolated schema
//! on the shared server, or a private server that a test may crash and restart), and an
//! ingest source of the GitHub type with requests signed like GitHub's.

#![allow(dead_code)] // each test file uses a different part

pub mod github;
pub mod load;
pub mod postgres;

use axum::http::HeaderMap;
use serde_json::Value;
use std::collections::HashMap;
use std::future::Future;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::time::Instant;

pub const TOKEN: &str = "binary-test-admin-token-0123";
/// The main key every test node shares (nodes of one PostgreSQL database must).
pub const MAIN_KEY: &str = "aG9va2QtdGVzdC1tYWluLWtleS0wMTIzNDU2Nzg5YWI=";

/// A running `hookd serve`; killed with SIGKILL when dropped.
pub struct Node {
    child: Child,
    /// `http://127.0.0.1:{port}/api/v1`.
    pub base: String,
    /// `http://127.0.0.1:{port}`: where `/ingest/...` lives.
    pub root: String,
}

impl Node {
    /// Starts a node on `database_url` and waits until it reports healthy. `env` adds or
    /// overrides `HOOKD_*` variables; an empty value removes one (`HOOKD_ADMIN_TOKEN`).
    pub async fn start(database_url: &str, data_dir: &Path, env: &[(&str, &str)]) -> Node {
        Self::spawn(database_url, data_dir, env, Stdio::inherit()).await
    }

    async fn spawn(
        database_url: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
        stderr: Stdio,
    ) -> Node {
        let port = free_port();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_hookd"));
        cmd.arg("serve")
            .arg("--listen")
            .arg(format!("127.0.0.1:{port}"))
            .env("HOOKD_DATABASE_URL", database_url)
            .env("HOOKD_DATA_DIR", data_dir)
            .env("HOOKD_ADMIN_TOKEN", TOKEN)
            .env("HOOKD_MAIN_KEY", MAIN_KEY)
            .env("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8")
            .env("HOOKD_RETRY_SCHEDULE", "0.5,0.5,1,1,1")
            .env("HOOKD_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(stderr);
        for (k, v) in env {
            if v.is_empty() {
                cmd.env_remove(k);
            } else {
                cmd.env(k, v);
            }
        }
        let node = Node {
            child: cmd.spawn().expect("hookd binary starts"),
            base: format!("http://127.0.0.1:{port}/api/v1"),
            root: format!("http://127.0.0.1:{port}"),
        };
        let client = reqwest::Client::new();
        let health = format!("{}/health", node.base);
        eventually("hookd reports healthy", Duration::from_secs(30), || {
            let req = client.get(&health).send();
            async move { req.await.is_ok_and(|r| r.status() == 200) }
        })
        .await;
        node
    }

    /// Like [`Node::start`], with the log (stderr, no colours) written to `log`.
    pub async fn start_logging(
        database_url: &str,
        data_dir: &Path,
        env: &[(&str, &str)],
        log: &Path,
    ) -> Node {
        let file = std::fs::File::create(log).expect("creating the node's log file");
        let mut env = env.to_vec();
        env.push(("NO_COLOR", "1"));
        Self::spawn(database_url, data_dir, &env, Stdio::from(file)).await
    }

    /// The process id, for reading `/proc/<pid>/status`.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// `kill -9`.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Polls `cond` every 20 ms until it holds; panics after `limit`.
pub async fn eventually<F, Fut>(what: &str, limit: Duration, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    while !cond().await {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// One request as the receiver saw it.
#[derive(Clone, Debug)]
pub struct Arrival {
    pub msg_id: String,
    pub path: String,
    pub at: Instant,
    /// What the receiver answered.
    pub status: u16,
    /// The request's headers and body, for checks of what was forwarded.
    pub headers: HeaderMap,
    pub body: axum::body::Bytes,
}

/// How the receiver answers.
#[derive(Clone, Debug, Default)]
pub struct Behaviour {
    /// Delay before answering, so many requests are in flight at once.
    pub delay: Duration,
    /// Answer 500 to the first request of every message (per path), 200 afterwards.
    pub fail_first: bool,
}

/// An HTTP receiver that records every request: its `webhook-id`, path, time, headers
/// and body.
#[derive(Clone)]
pub struct Receiver {
    addr: std::net::SocketAddr,
    arrivals: Arc<Mutex<Vec<Arrival>>>,
}

impl Receiver {
    pub async fn start(behaviour: Behaviour) -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let arrivals: Arc<Mutex<Vec<Arrival>>> = Arc::default();
        let log = arrivals.clone();
        let app = axum::Router::new().fallback(
            move |uri: axum::http::Uri, headers: HeaderMap, body: axum::body::Bytes| {
                let (log, behaviour) = (log.clone(), behaviour.clone());
                async move {
                    tokio::time::sleep(behaviour.delay).await;
                    let msg_id = headers
                        .get("webhook-id")
                        .and_then(|v| v.to_str().ok())
                        .unwrap_or_default()
                        .to_owned();
                    let path = uri.path().to_owned();
                    let mut log = log.lock().unwrap();
                    let seen_before = log.iter().any(|a| a.msg_id == msg_id && a.path == path);
                    let status = if behaviour.fail_first && !seen_before {
                        500
                    } else {
                        200
                    };
                    log.push(Arrival {
                        msg_id,
                        path,
                        at: Instant::now(),
                        status,
                        headers,
                        body,
                    });
                    axum::http::StatusCode::from_u16(status).unwrap()
                }
            },
        );
        tokio::spawn(async move { axum::serve(listener, app).await });
        Receiver { addr, arrivals }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn arrivals(&self) -> Vec<Arrival> {
        self.arrivals.lock().unwrap().clone()
    }

    /// Successful arrivals per (message id, path).
    pub fn delivered(&self) -> HashMap<(String, String), usize> {
        let mut out = HashMap::new();
        for a in self
            .arrivals
            .lock()
            .unwrap()
            .iter()
            .filter(|a| a.status == 200)
        {
            *out.entry((a.msg_id.clone(), a.path.clone())).or_insert(0) += 1;
        }
        out
    }
}

/// The admin API of one node.
#[derive(Clone)]
pub struct Api {
    client: reqwest::Client,
    /// `{root}/api/v1`, which [`Api::call`] paths are relative to.
    pub base: String,
    /// The node's address, which [`Api::call_root`] paths are relative to.
    pub root: String,
}

impl Api {
    pub fn new(node: &Node) -> Api {
        Api {
            client: reqwest::Client::builder()
                .timeout(Duration::from_secs(30))
                .build()
                .unwrap(),
            base: node.base.clone(),
            root: node.root.clone(),
        }
    }

    /// Sends a request; the status and the JSON body (`Null` if none). Panics only if no
    /// response came at all.
    pub async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_url(method, &format!("{}{path}", self.base), body)
            .await
    }

    /// Like [`Api::call`], for paths outside `/api/v1` (e.g. `/ingest/api/v1/source`).
    pub async fn call_root(&self, method: &str, path: &str, body: Option<Value>) -> (u16, Value) {
        self.call_url(method, &format!("{}{path}", self.root), body)
            .await
    }

    async fn call_url(&self, method: &str, url: &str, body: Option<Value>) -> (u16, Value) {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let mut req = self.client.request(method, url).bearer_auth(TOKEN);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let r = req.send().await.expect("a response");
        (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
    }

    /// Like [`Api::call`] but `None` when the request failed without a response.
    pub async fn try_call(&self, method: &str, path: &str, body: Value) -> Option<(u16, Value)> {
        let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap();
        let r = self
            .client
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
            .json(&body)
            .send()
            .await
            .ok()?;
        Some((r.status().as_u16(), r.json().await.unwrap_or(Value::Null)))
    }

    pub async fn health(&self) -> Option<u16> {
        let r = self
            .client
            .get(format!("{}/health", self.base))
            .send()
            .await
            .ok()?;
        Some(r.status().as_u16())
    }

    /// Creates an application and returns its id.
    pub async fn create_app(&self, name: &str) -> String {
        let (s, app) = self
            .call("POST", "/app", Some(serde_json::json!({ "name": name })))
            .await;
        assert_eq!(s, 201, "{app}");
        app["id"].as_str().unwrap().to_owned()
    }

    /// Creates an endpoint and returns its id.
    pub async fn create_endpoint(&self, app: &str, url: &str) -> String {
        let (s, ep) = self
            .call(
                "POST",
                &format!("/app/{app}/endpoint"),
                Some(serde_json::json!({ "url": url })),
            )
            .await;
        assert_eq!(s, 201, "{ep}");
        ep["id"].as_str().unwrap().to_owned()
    }

    /// Sends a message; its id if accepted (202), else `None`.
    pub async fn send(&self, app: &str, i: usize) -> Option<String> {
        let body = serde_json::json!({"eventType": "test.event", "payload": {"i": i}});
        match self
            .try_call("POST", &format!("/app/{app}/msg"), body)
            .await
        {
            Some((202, m)) => Some(m["id"].as_str().unwrap().to_owned()),
            _ => None,
        }
    }
}
