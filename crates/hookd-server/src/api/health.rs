//! `GET /api/v1/health` (no auth): 200 when the database answers and takes writes and no
//! part of the node is stalled (see `crate::watchdog`), 503 otherwise, with per-component
//! status. `GET /api/v1/health/ready` adds the schema check, for load balancers.
//! `GET /api/v1/health/ping`: 204 while the process serves.
//!
//! A node whose writes fail for lack of space answers 503 too (`status: degraded`,
//! `database: storage_full`): it cannot accept messages, so a load balancer should send
//! them elsewhere; it reads fine, and turns healthy by itself once a write succeeds (the
//! store probes with a write while writes are failing). Every check is bounded by the
//! store's call deadline, so a frozen database is reported within it.

use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookd_store::{RateLimitedLog, StoreError};
use serde_json::{json, Map, Value};

/// A load balancer polls health often; one line a second while the database is down.
static HEALTH_LOG: RateLimitedLog = RateLimitedLog::new();

/// `GET /api/v1/health`: the database and every watched part of the node.
pub async fn health(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let database = database(&state).await;
    answer(&state, database, None)
}

/// `GET /api/v1/health/ready`: as `health`, and the database's schema is the one this
/// build expects (`migrations`: `current`, `behind` before this build's migrations ran,
/// `ahead` when a newer hookd migrated it). A load balancer takes a node that is not
/// ready out of rotation.
pub async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let database = database(&state).await;
    let migrations = match state.store.schema_version().await {
        Ok(v) if v.is_current() => "current",
        Ok(v) if v.current < v.known => "behind",
        Ok(_) => "ahead",
        Err(_) => "unknown",
    };
    answer(&state, database, Some(migrations))
}

/// The database's state as health reports it: `ok`, `storage_full` or `unavailable`.
async fn database(state: &ApiState) -> &'static str {
    match state.store.health().await {
        Ok(()) => "ok",
        Err(StoreError::StorageFull(why)) => {
            if let Some(suppressed) = HEALTH_LOG.admit() {
                tracing::warn!(error = %why, suppressed, "health check: storage full");
            }
            "storage_full"
        }
        Err(err) => {
            if let Some(suppressed) = HEALTH_LOG.admit() {
                tracing::warn!(error = %err, suppressed, "health check: database unavailable");
            }
            "unavailable"
        }
    }
}

/// `{"status", "components": {"database", <part>: "ok"|"stalled", ...}}`: 200 when
/// everything is ok, else 503 (`unavailable` without a database, else `degraded`).
fn answer(
    state: &ApiState,
    database: &'static str,
    migrations: Option<&'static str>,
) -> (StatusCode, Json<Value>) {
    let mut components = Map::new();
    components.insert("database".into(), json!(database));
    if let Some(m) = migrations {
        components.insert("migrations".into(), json!(m));
    }
    let mut stalled = false;
    for (part, is_stalled) in state.watchdog.parts() {
        stalled |= is_stalled;
        components.insert(
            part.into(),
            json!(if is_stalled { "stalled" } else { "ok" }),
        );
    }
    let status = if database == "unavailable" {
        "unavailable"
    } else if database != "ok" || stalled || migrations.is_some_and(|m| m != "current") {
        "degraded"
    } else {
        "ok"
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(json!({ "status": status, "components": components })),
    )
}

/// Liveness: answers without touching the database.
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
