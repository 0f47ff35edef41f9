//! `GET /api/v1/health` (no auth): 200 when the database answers, 503 otherwise, with
//! per-component status. `GET /api/v1/health/ping`: 204 while the process serves.

use super::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use serde_json::{json, Value};

/// Readiness: reports the database's status.
pub async fn health(State(state): State<ApiState>) -> (StatusCode, Json<Value>) {
    match state.store.health().await {
        Ok(()) => (
            StatusCode::OK,
            Json(json!({ "status": "ok", "components": { "database": "ok" } })),
        ),
        Err(err) => {
            tracing::warn!(error = %err, "health check: database unavailable");
            (
                StatusCode::SERVICE_UNAVAILABLE,
                Json(
                    json!({ "status": "unavailable", "components": { "database": "unavailable" } }),
                ),
            )
        }
    }
}

/// Liveness: answers without touching the database.
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
