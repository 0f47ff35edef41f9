//! The HTTP API v1, mirroring Svix's so the official SDKs work unchanged.
//!
//! Layout: one module per area, the request plumbing apart. Every route is wired in
//! [`router`] below.
//! - [`app`]: applications, the root resource: everything else lives under one and is
//!   looked up through [`app::load_app`].
//! - [`event_type`]: event types.
//! - [`endpoint`]: an application's endpoints: CRUD, request bodies, custom headers, the
//!   signing secret, stats, send-example, recovery and the background tasks it starts.
//! - [`message`]: messages, and their attempts, destinations and resends.
//! - [`ingest`]: the ingest gateway: the Svix Ingest management API under
//!   `/ingest/api/v1` (sources, their endpoints, the rejection log), behind the same
//!   authentication, and `/ingest/{token}`, where providers send (no bearer token).
//! - [`portal`]: app-portal access (tokens limited to one application).
//! - [`health`]: health and ping (no token).
//! - [`web`]: the consumer portal (`/portal/{app_id}`) and the operator dashboard (`/ui`),
//!   their embedded assets, and the dashboard's sign-in.
//! - [`openapi`]: the OpenAPI document generated from the handlers and their types,
//!   `GET /api/v1/openapi.json` and the `/docs` page (no token).
//! - [`scrape`]: `GET /metrics` (its own token, if any; see [`crate::metrics`]).
//! - [`shared`]: what several areas use, kept out of their handler files: a new message's
//!   fan-out target and payload expiry, and a message's JSON shape.
//! - [`http`]: what every route goes through, whatever its area: errors, extractors (and
//!   the NUL check), pagination, authentication (the admin token or an app-portal token),
//!   idempotency, the fan-out cache, the access log.
//!
//! Imports go one way: `message` → `endpoint` → `shared` → `app` → `http`, with `ingest`
//! above `endpoint` (its endpoints are served by the endpoint handlers) and `portal`
//! above `app`; no module imports one that imports it. Each reads [`ApiState`] from here.
//!
//! Handlers only call the [`Store`] and the delivery [`Engine`]; they never see SQL.
//! Anything that puts deliveries into the queue (a message, an ingest event, an example,
//! a resend) goes through the engine's write path (`Engine::publish`, `publish_ingest`,
//! `resend`), and every endpoint change reaches the engine as one
//! `Engine::endpoint_changed`: a handler never writes queue rows or their leases itself.

pub mod app;
pub mod endpoint;
pub mod event_type;
pub mod health;
pub mod http;
pub mod ingest;
pub mod message;
pub mod openapi;
pub mod portal;
pub mod scrape;
pub mod shared;
pub mod web;

#[cfg(test)]
mod tests;

use crate::metrics::ServerMetrics;
use axum::extract::DefaultBodyLimit;
use axum::routing::{delete, get, post};
use axum::{middleware, Extension, Router};
use hookd_delivery::Engine;
use hookd_store::Store;
use std::sync::Arc;

pub use scrape::MetricsAccess;

/// What every handler can reach: [`ApiShared`] behind one `Arc`, so that the per-request
/// clones every middleware and handler makes of their state cost one reference count.
#[derive(Clone)]
pub struct ApiState(Arc<ApiShared>);

impl ApiState {
    pub fn new(shared: ApiShared) -> ApiState {
        ApiState(Arc::new(shared))
    }
}

impl std::ops::Deref for ApiState {
    type Target = ApiShared;

    fn deref(&self) -> &ApiShared {
        &self.0
    }
}

/// The API's state, shared by every request.
pub struct ApiShared {
    pub store: Arc<dyn Store>,
    pub engine: Engine,
    /// The admin bearer token (compared in constant time).
    pub admin_token: Arc<str>,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// How long a rotated-out endpoint key keeps signing unless the rotation says.
    pub secret_grace: std::time::Duration,
    /// Endpoint URLs must be `https` (deliveries to `http` are refused too).
    pub https_only: bool,
    /// How long an `idempotency-key` and its stored response are kept.
    pub idempotency_ttl: std::time::Duration,
    /// Base of the ingest sources' receive URLs (`{public_url}/ingest/{token}`), without
    /// a trailing slash.
    pub public_url: Arc<str>,
    /// The receiving route's caches and limits.
    pub receiver: Arc<ingest::receive::Receiver>,
    /// Log one line per request ([`http::observe`]).
    pub access_log: bool,
    /// What the server counts, and the `/metrics` page.
    pub metrics: Arc<ServerMetrics>,
    /// Which parts of the node are stalled (health, readiness, metrics).
    pub watchdog: Arc<crate::watchdog::Watchdog>,
    /// Where `/metrics` is served, and the token it needs.
    pub metrics_access: MetricsAccess,
    /// Records request spans (a no-op unless `otlp_endpoint` is set).
    pub tracer: hookd_core::trace::Tracer,
    /// Who may frame the consumer portal.
    pub portal_frame_ancestors: web::FrameAncestors,
}

/// The API's router, ready to serve.
pub fn router(state: ApiState) -> Router {
    let authed = Router::new()
        .route("/app", get(app::list).post(app::create))
        .route(
            "/app/{app_id}",
            get(app::get)
                .put(app::upsert)
                .patch(app::patch)
                .delete(app::delete),
        )
        .route(
            "/event-type",
            get(event_type::list).post(event_type::create),
        )
        .route(
            "/event-type/{event_type_name}",
            get(event_type::get)
                .put(event_type::upsert)
                .patch(event_type::patch)
                .delete(event_type::delete),
        )
        .route(
            "/app/{app_id}/endpoint",
            get(endpoint::list).post(endpoint::create),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}",
            get(endpoint::get)
                .put(endpoint::upsert)
                .patch(endpoint::patch)
                .delete(endpoint::delete),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/secret",
            get(endpoint::secret::get),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/secret/rotate",
            post(endpoint::secret::rotate),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/stats",
            get(endpoint::stats::stats),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/stats/series",
            get(endpoint::stats::series),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/send-example",
            post(endpoint::send_example::send_example),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/headers",
            get(endpoint::headers::get)
                .put(endpoint::headers::update)
                .patch(endpoint::headers::patch),
        )
        .route(
            "/app/{app_id}/endpoint/{endpoint_id}/recover",
            post(endpoint::recovery::recover),
        )
        .route("/background-task", get(endpoint::recovery::list))
        .route("/background-task/{task_id}", get(endpoint::recovery::get))
        .route(
            "/app/{app_id}/msg",
            get(message::list).post(message::create),
        )
        .route("/app/{app_id}/msg/{msg_id}", get(message::get))
        .route("/app/{app_id}/msg/precheck/active", post(message::precheck))
        .route(
            "/app/{app_id}/msg/{msg_id}/content",
            delete(message::expunge_content),
        )
        .route(
            "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content",
            delete(message::attempt::expunge_content),
        )
        .route(
            "/app/{app_id}/msg/{msg_id}/endpoint",
            get(message::attempt::list_destinations),
        )
        .route(
            "/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend",
            post(message::attempt::resend),
        )
        .route(
            "/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}",
            get(message::attempt::get),
        )
        .route(
            "/app/{app_id}/attempt/endpoint/{endpoint_id}",
            get(message::attempt::list_by_endpoint),
        )
        .route(
            "/app/{app_id}/attempt/msg/{msg_id}",
            get(message::attempt::list_by_msg),
        )
        .route(
            "/auth/app-portal-access/{app_id}",
            post(portal::app_portal_access),
        )
        // Layers run outside-in in reverse order: authentication, then idempotency.
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::idempotency::idempotency,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::authorize,
        ));

    let ingest = Router::new()
        .route(
            "/source",
            get(ingest::source::list).post(ingest::source::create),
        )
        .route(
            "/source/{source_id}",
            get(ingest::source::get)
                .put(ingest::source::update)
                .delete(ingest::source::delete),
        )
        .route(
            "/source/{source_id}/token/rotate",
            post(ingest::source::rotate_token),
        )
        .route(
            "/source/{source_id}/rejection",
            get(ingest::rejection::list),
        )
        .route(
            "/source/{source_id}/endpoint",
            get(ingest::endpoint::list).post(ingest::endpoint::create),
        )
        .route(
            "/source/{source_id}/endpoint/{endpoint_id}",
            get(ingest::endpoint::get)
                .put(ingest::endpoint::upsert)
                .delete(ingest::endpoint::delete),
        )
        .route(
            "/source/{source_id}/endpoint/{endpoint_id}/secret",
            get(ingest::endpoint::secret),
        )
        .route(
            "/source/{source_id}/endpoint/{endpoint_id}/secret/rotate",
            post(ingest::endpoint::rotate_secret),
        )
        .route(
            "/source/{source_id}/endpoint/{endpoint_id}/headers",
            get(ingest::endpoint::headers)
                .put(ingest::endpoint::update_headers)
                .patch(ingest::endpoint::patch_headers),
        )
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::idempotency::idempotency,
        ))
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http::auth::authorize,
        ));

    let v1 = Router::new()
        .route("/health", get(health::health))
        .route("/health/ping", get(health::ping))
        .route("/health/ready", get(health::ready))
        .route("/openapi.json", get(openapi::openapi_json))
        .merge(authed);

    // A declared body over the limit is 413 before anything reads it (no `100 Continue`).
    let declared_size =
        middleware::from_fn_with_state(state.clone(), crate::listener::refuse_declared_oversize);
    let observe = http::observe::Observe {
        metrics: state.metrics.clone(),
        access_log: state.access_log,
        tracer: state.tracer.clone(),
    };
    let mut router = Router::new()
        .route("/docs", get(openapi::docs_page))
        .merge(web::router(state.clone()));
    if state.metrics_access.on_api {
        router = router.route("/metrics", get(scrape::metrics));
    }
    router
        .nest("/api/v1", v1.layer(declared_size.clone()))
        .nest("/ingest/api/v1", ingest.layer(declared_size))
        // Providers' requests: no bearer token, the unguessable path names the source.
        .route(
            "/ingest/{token}",
            post(ingest::receive::receive).put(ingest::receive::receive),
        )
        .fallback(http::error::route_not_found)
        .method_not_allowed_fallback(http::error::method_not_allowed)
        .layer(DefaultBodyLimit::max(state.max_body_bytes))
        .layer(Extension(http::cache::FanOutCache::default()))
        // Outermost, so it sees every response, the refusals of the layers above included.
        .layer(observe)
        .with_state(state)
}

/// The router of `metrics_listen`: `/metrics` alone.
pub fn metrics_router(state: ApiState) -> Router {
    Router::new()
        .route("/metrics", get(scrape::metrics))
        .fallback(http::error::route_not_found)
        .with_state(state)
}
