//! Handler tests: the real router over a real SQLite store (in a temporary directory) and
//! a real delivery engine, driven with `oneshot` (no socket).

mod app;
mod endpoint;
mod event_type;
mod idempotency;
mod message;

use super::{router, ApiState};
use axum::body::Body;
use axum::http::{Method, Request, StatusCode};
use hookd_delivery::{Engine, EngineConfig};
use hookd_store::sqlite::SqliteStore;
use serde_json::Value;
use std::sync::Arc;
use tokio_util::sync::{CancellationToken, DropGuard};
use tower::ServiceExt;

pub const TOKEN: &str = "test-admin-token";
/// Small, so the 413 test needs no big buffers.
pub const MAX_BODY: usize = 8 * 1024;

/// A fresh SQLite store in `dir`.
pub fn sqlite_store(dir: &std::path::Path) -> SqliteStore {
    SqliteStore::open(&dir.join("hookd.db")).expect("sqlite opens")
}

pub struct TestApi {
    router: axum::Router,
    pub store: Arc<SqliteStore>,
    _engine_stop: DropGuard,
    _dir: tempfile::TempDir,
}

impl TestApi {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let store = Arc::new(sqlite_store(dir.path()));
        let (router, guard) = Self::router_over(store.clone());
        Self {
            router,
            store,
            _engine_stop: guard,
            _dir: dir,
        }
    }

    fn router_over(store: Arc<dyn hookd_store::Store>) -> (axum::Router, DropGuard) {
        let shutdown = CancellationToken::new();
        let engine = Engine::start(store.clone(), EngineConfig::default(), shutdown.clone())
            .expect("engine starts");
        let engine_parts = engine.heartbeats().to_vec();
        let state = ApiState::new(crate::api::ApiShared {
            store: store.clone(),
            engine,
            admin_token: TOKEN.into(),
            max_body_bytes: MAX_BODY,
            secret_grace: std::time::Duration::from_secs(86_400),
            https_only: false,
            idempotency_ttl: std::time::Duration::from_secs(86_400),
            public_url: "http://hookd.test".into(),
            receiver: Arc::new(crate::api::ingest::receive::Receiver::new(
                std::time::Duration::from_secs(3600),
            )),
            access_log: false,
            metrics: Arc::new(crate::metrics::ServerMetrics::new(
                std::time::Duration::from_secs(5),
                10,
            )),
            watchdog: Arc::new(crate::watchdog::Watchdog::new(
                engine_parts,
                std::time::Duration::from_secs(60),
            )),
            metrics_access: crate::api::MetricsAccess {
                on_api: true,
                token: None,
            },
            tracer: hookd_core::trace::Tracer::off(),
            portal_frame_ancestors: Default::default(),
        });
        (router(state), shutdown.drop_guard())
    }

    /// Sends a request with raw body bytes and an optional bearer token.
    pub async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Vec<u8>,
    ) -> (StatusCode, Value) {
        let mut req = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        if !body.is_empty() {
            req = req.header("content-type", "application/json");
        }
        let resp = self
            .router
            .clone()
            .oneshot(req.body(Body::from(body)).unwrap())
            .await
            .unwrap();
        let status = resp.status();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX)
            .await
            .unwrap();
        let value = if bytes.is_empty() {
            Value::Null
        } else {
            serde_json::from_slice(&bytes).unwrap_or_else(|_| {
                panic!(
                    "{status}: body is not JSON: {:?}",
                    String::from_utf8_lossy(&bytes)
                )
            })
        };
        (status, value)
    }

    /// Sends an authenticated request with an optional JSON body.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let bytes = body
            .map(|b| serde_json::to_vec(&b).unwrap())
            .unwrap_or_default();
        self.raw(method, path, Some(TOKEN), bytes).await
    }

    pub async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    pub async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }

    /// Creates an app and returns its id.
    pub async fn app(&self, uid: &str) -> String {
        let (status, body) = self
            .post("/api/v1/app", serde_json::json!({"name": uid, "uid": uid}))
            .await;
        assert_eq!(status, StatusCode::CREATED, "{body}");
        body["id"].as_str().unwrap().to_owned()
    }
}

/// Asserts a 422 whose location names `field`.
pub fn assert_validation(status: StatusCode, body: &Value, field: &str) {
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["code"], "validation", "{body}");
    let loc = &body["detail"][0]["loc"];
    assert!(
        loc.as_array().unwrap().iter().any(|l| l == field),
        "{field} not in {body}"
    );
    assert!(
        body["detail"][0]["msg"].as_str().unwrap().contains(field),
        "{body}"
    );
}

#[tokio::test]
async fn requests_without_the_admin_token_are_refused() {
    let api = TestApi::new();
    for token in [None, Some("wrong"), Some("")] {
        let (status, body) = api.raw(Method::GET, "/api/v1/app", token, vec![]).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(body["code"], "authentication_failed");
        assert!(body["detail"].is_string());
    }
    let (status, _) = api
        .raw(Method::GET, "/api/v1/app", Some(TOKEN), vec![])
        .await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn health_needs_no_token_and_reports_the_database() {
    let api = TestApi::new();
    let (status, body) = api.raw(Method::GET, "/api/v1/health", None, vec![]).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(body["components"]["database"], "ok");
    // The 503 answers are shown against real failures by the binary tests: a frozen
    // PostgreSQL (`unavailable`, db_deadline.rs) and a full disk (`degraded`, disk_full.rs).
}

#[tokio::test]
async fn unknown_routes_and_methods_answer_json() {
    let api = TestApi::new();
    let (status, body) = api.get("/api/v1/nope").await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::NOT_FOUND, Some("not_found"))
    );
    let (status, body) = api.call(Method::DELETE, "/api/v1/app", None).await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED);
    assert_eq!(body["code"], "method_not_allowed");
}

#[tokio::test]
async fn bad_bodies_get_stable_codes() {
    let api = TestApi::new();
    let (status, body) = api
        .raw(
            Method::POST,
            "/api/v1/app",
            Some(TOKEN),
            b"{not json".to_vec(),
        )
        .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_json"))
    );
    let (status, body) = api
        .post("/api/v1/app", serde_json::json!({"name": 5}))
        .await;
    assert_validation(status, &body, "name");
    let big = format!(r#"{{"name":"{}"}}"#, "x".repeat(MAX_BODY));
    let (status, body) = api
        .raw(Method::POST, "/api/v1/app", Some(TOKEN), big.into_bytes())
        .await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(body["code"], "payload_too_large");
    let (status, body) = api.get("/api/v1/app?limit=lots").await;
    assert_validation(status, &body, "limit");
}
