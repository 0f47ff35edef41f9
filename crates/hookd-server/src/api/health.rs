//! `GET /api/v1/health` (no auth): 200 when the database answers and takes writes, 503
//! otherwise, with per-component status and the reason. `GET /api/v1/health/ping`: 204
//! while the process serves.
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
use serde_json::{json, Value};

/// A load balancer polls health often; one line a second while the database is down.
static HEALTH_LOG: RateLimitedLog = RateLimitedLog::new();

/// Readiness: reports the database's status.
pub async fn health(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    let (status, database) = match state.store.health().await {
        Ok(()) => {
            return (
                StatusCode::OK,
                Json(json!({ "status": "ok", "components": { "database": "ok" } })),
            )
        }
        Err(StoreError::StorageFull(why)) => {
            if let Some(suppressed) = HEALTH_LOG.admit() {
                tracing::warn!(error = %why, suppressed, "health check: storage full");
            }
            ("degraded", "storage_full")
        }
        Err(err) => {
            if let Some(suppressed) = HEALTH_LOG.admit() {
                tracing::warn!(error = %err, suppressed, "health check: database unavailable");
            }
            ("unavailable", "unavailable")
        }
    };
    (
        StatusCode::SERVICE_UNAVAILABLE,
        Json(json!({ "status": status, "components": { "database": database } })),
    )
}

/// Liveness: answers without touching the database.
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
