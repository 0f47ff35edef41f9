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
use serde::Serialize;
use std::collections::BTreeMap;
use utoipa::ToSchema;

/// The body of `health` and `ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthOut {
    /// `ok`; `degraded` when something below is not; `unavailable` without a database.
    status: &'static str,
    /// `database`: `ok`, `storage_full` or `unavailable`; `migrations` (readiness only):
    /// `current`, `behind`, `ahead` or `unknown`; each watched part of the engine (`poller`,
    /// `dispatcher`, `recorder`, ...): `ok` or `stalled`.
    components: BTreeMap<&'static str, &'static str>,
}

/// A load balancer polls health often; one line a second while the database is down.
static HEALTH_LOG: RateLimitedLog = RateLimitedLog::new();

/// `GET /api/v1/health`: the database and every watched part of the node.
#[utoipa::path(get, path = "/api/v1/health", tag = "Health",
    operation_id = "v1.health.get", summary = "Health: the database and every part of the engine",
    responses((status = 200, description = "Everything is ok", body = HealthOut), (status = 503, description = "Degraded or unavailable; `components` says what", body = HealthOut)))]
pub async fn health(State(state): State<ApiState>) -> (StatusCode, Json<HealthOut>) {
    let database = database(&state).await;
    answer(&state, database, None)
}

/// `GET /api/v1/health/ready`: as `health`, and the database's schema is the one this
/// build expects (`migrations`: `current`, `behind` before this build's migrations ran,
/// `ahead` when a newer hookd migrated it). A load balancer takes a node that is not
/// ready out of rotation.
#[utoipa::path(get, path = "/api/v1/health/ready", tag = "Health",
    operation_id = "hookd.health.ready", summary = "Readiness: health, and the schema is current",
    responses((status = 200, description = "Ready", body = HealthOut), (status = 503, description = "Not ready; `components` says why", body = HealthOut)))]
pub async fn ready(State(state): State<ApiState>) -> (StatusCode, Json<HealthOut>) {
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
) -> (StatusCode, Json<HealthOut>) {
    let mut components = BTreeMap::new();
    components.insert("database", database);
    if let Some(m) = migrations {
        components.insert("migrations", m);
    }
    let mut stalled = false;
    for (part, is_stalled) in state.watchdog.parts() {
        stalled |= is_stalled;
        components.insert(part, if is_stalled { "stalled" } else { "ok" });
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
    (code, Json(HealthOut { status, components }))
}

/// Liveness: answers without touching the database.
#[utoipa::path(get, path = "/api/v1/health/ping", tag = "Health",
    operation_id = "v1.health.ping", summary = "The process answers",
    responses((status = 204, description = "Serving")))]
pub async fn ping() -> StatusCode {
    StatusCode::NO_CONTENT
}
