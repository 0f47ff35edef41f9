//! The HTTP API (placeholder until implemented).

use hookd_delivery::Engine;
use hookd_store::Store;
use std::sync::Arc;

/// What every handler can reach.
#[derive(Clone)]
pub struct ApiState {
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    /// The admin bearer token (compared in constant time).
    pub admin_token: Arc<str>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
}

/// The API's router, ready to serve.
pub fn router(_state: ApiState) -> axum::Router {
    axum::Router::new()
}
