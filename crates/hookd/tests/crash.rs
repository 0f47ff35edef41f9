//! Crash recovery with the real binary: `kill -9` the server while deliveries are in
//! flight, start it again on the same data, and every accepted message still arrives.

use axum::http::HeaderMap;
use serde_json::{json, Value};
use std::collections::HashSet;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

const TOKEN: &str = "crash-test-admin-token-0123";

struct Server {
    child: Child,
    base: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_server(dir: &std::path::Path) -> Server {
    let port = free_port();
    let child = Command::new(env!("CARGO_BIN_EXE_hookd"))
        .arg("serve")
        .arg("--listen")
        .arg(format!("127.0.0.1:{port}"))
        .env(
            "HOOKD_DATABASE_URL",
            format!("sqlite://{}", dir.join("hookd.db").display()),
        )
        .env("HOOKD_DATA_DIR", dir)
        .env("HOOKD_ADMIN_TOKEN", TOKEN)
        .env("HOOKD_ALLOWED_NETWORKS", "127.0.0.0/8")
        .env("HOOKD_RETRY_SCHEDULE", "0.5,0.5,1,1,1")
        .env("HOOKD_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("hookd binary starts");
    let server = Server {
        child,
        base: format!("http://127.0.0.1:{port}/api/v1"),
    };
    let client = reqwest::Client::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    loop {
        if let Ok(r) = client.get(format!("{}/health", server.base)).send().await {
            if r.status() == 200 {
                return server;
            }
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "hookd did not become healthy"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Records the distinct `webhook-id`s that arrived, answering after a short delay so that
/// many requests are in flight when the server is killed.
async fn start_receiver(seen: Arc<Mutex<HashSet<String>>>) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/hook", listener.local_addr().unwrap());
    let app = axum::Router::new().fallback(move |headers: HeaderMap| {
        let seen = seen.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(20)).await;
            if let Some(id) = headers.get("webhook-id").and_then(|v| v.to_str().ok()) {
                seen.lock().unwrap().insert(id.to_owned());
            }
            "ok"
        }
    });
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn post(client: &reqwest::Client, url: String, body: Value) -> (u16, Value) {
    let r = client
        .post(url)
        .bearer_auth(TOKEN)
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn kill_9_mid_delivery_loses_nothing_accepted() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(HashSet::new()));
    let hook_url = start_receiver(seen.clone()).await;
    let client = reqwest::Client::new();

    let server = start_server(dir.path()).await;
    let (s, app) = post(
        &client,
        format!("{}/app", server.base),
        json!({"name": "crash"}),
    )
    .await;
    assert_eq!(s, 201);
    let app_id = app["id"].as_str().unwrap().to_owned();
    let (s, _) = post(
        &client,
        format!("{}/app/{app_id}/endpoint", server.base),
        json!({"url": hook_url}),
    )
    .await;
    assert_eq!(s, 201);

    let mut accepted = HashSet::new();
    for i in 0..300 {
        let (s, m) = post(
            &client,
            format!("{}/app/{app_id}/msg", server.base),
            json!({"eventType": "e", "payload": {"i": i}}),
        )
        .await;
        assert_eq!(s, 202);
        accepted.insert(m["id"].as_str().unwrap().to_owned());
    }
    // Kill while deliveries are still arriving.
    let deadline = tokio::time::Instant::now() + Duration::from_secs(20);
    while seen.lock().unwrap().len() < 20 {
        assert!(
            tokio::time::Instant::now() < deadline,
            "no deliveries before the kill"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    drop(server); // SIGKILL
    let before = seen.lock().unwrap().len();
    assert!(
        before < accepted.len(),
        "the kill happened mid-delivery ({before} arrived)"
    );

    let _server = start_server(dir.path()).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let missing = accepted.difference(&seen.lock().unwrap()).count();
        if missing == 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{missing} accepted messages never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
