//! `GET /metrics`: the Prometheus text page ([`crate::metrics`]), on the API listener or,
//! with `metrics_listen`, on its own. No token is needed unless `metrics_token` is set;
//! then that token or the admin token (`Authorization: Bearer ...`). The page names no
//! secret, payload or URL; it does name the ids of the endpoints furthest behind.

use super::http::auth::{bearer, token_matches};
use super::http::error::ApiError;
use super::ApiState;
use crate::api::http::error::HttpErrorOut;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use std::sync::Arc;

/// Where `/metrics` is served and what it asks for.
#[derive(Clone, Debug, Default)]
pub struct MetricsAccess {
    /// Served on the API listener (no `metrics_listen`).
    pub on_api: bool,
    /// The token it requires besides the admin token; `None`: none.
    pub token: Option<Arc<str>>,
}

/// `GET /metrics`.
#[utoipa::path(get, path = "/metrics", tag = "Health",
    operation_id = "hookd.metrics.get", summary = "Prometheus metrics",
    description = "The Prometheus text format (0.0.4). Served here unless `metrics_listen` moves it to an address of its own; with `metrics_token` set it needs that token (or the admin token) as a bearer token.",
    responses(
        (status = 200, description = "The metrics", content_type = "text/plain", body = String),
        (status = 401, description = "`metrics_token` is set and was not given", body = HttpErrorOut),
    ))]
pub async fn metrics(State(state): State<ApiState>, headers: HeaderMap) -> Response {
    if let Some(token) = &state.metrics_access.token {
        let given = headers.get(AUTHORIZATION).map_or("", bearer);
        let allowed = !given.is_empty()
            && (token_matches(given, token) || token_matches(given, &state.admin_token));
        if !allowed {
            return ApiError::Unauthorized("/metrics needs its bearer token").into_response();
        }
    }
    let page = state.metrics.render(&state).await;
    ([(CONTENT_TYPE, hookd_core::metrics::CONTENT_TYPE)], page).into_response()
}
