//! Endpoints of an application: `/api/v1/app/{app_id}/endpoint[/{endpoint_id}]`, and
//! what the area's other modules share: [`load_endpoint`], [`EndpointOut`], `changed`.
//!
//! Every change reaches the delivery engine as one `Engine::endpoint_changed` call (its
//! cache, the failure streak of a re-enabled endpoint, the `endpoint.*` operational
//! webhook) and drops the app's entry in the fan-out cache, so the next message sees it.
//!
//! - this file: list, create, get, upsert (`PUT`), patch and delete.
//! - `body`: request bodies and their validation (URL, uid, subscription, channels).
//! - `headers`: custom headers (credentials sealed, listed by name only).
//! - `secret`: the signing key, read and rotated.
//! - `stats`: deliveries per status over a time window.
//! - `send_example`: one example message to this endpoint only.
//! - `recovery`: `recover` (failed deliveries re-sent as a background task) and the
//!   background-task routes.

pub mod body;
pub mod headers;
pub mod recovery;
pub mod secret;
pub mod send_example;
pub mod stats;

use self::body::{apply_in, apply_patch, signing_key, EndpointIn, EndpointPatch};
use crate::api::app::load_app;
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::{AppPath, EndpointPath};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::{Application, Endpoint, Metadata};
use hookd_core::Timestamp;
use hookd_delivery::EndpointChange;
use hookd_store::StoreError;
use serde::Serialize;
use utoipa::ToSchema;

/// `EndpointOut`, with the subscription and rate limit under both Svix names.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EndpointOut {
    id: EndpointId,
    uid: Option<String>,
    url: String,
    description: String,
    version: i32,
    rate_limit: Option<u32>,
    throttle_rate: Option<u32>,
    /// hookd's own (absent from Svix): the concurrency cap and FIFO mode.
    max_concurrency: Option<u32>,
    fifo: bool,
    filter_types: Option<Vec<String>>,
    event_types: Option<Vec<String>>,
    channels: Option<Vec<String>>,
    disabled: bool,
    /// hookd's own: why the endpoint is disabled (`manual`, `gone`: it answered 410,
    /// `failing`: every attempt failed for the auto-disable period); absent while enabled
    /// or when not recorded.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<String>)]
    disabled_reason: Option<&'static str>,
    #[schema(value_type = BTreeMap<String, String>)]
    metadata: Metadata,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Endpoint> for EndpointOut {
    fn from(ep: Endpoint) -> Self {
        Self {
            id: ep.id,
            uid: ep.uid,
            url: ep.url,
            description: ep.description,
            version: ep.version,
            rate_limit: ep.rate_limit,
            throttle_rate: ep.rate_limit,
            max_concurrency: ep.max_concurrency,
            fifo: ep.fifo,
            filter_types: ep.event_types.clone(),
            event_types: ep.event_types,
            channels: ep.channels,
            disabled: ep.disabled,
            disabled_reason: ep.disabled_reason.map(|r| r.as_str()),
            metadata: ep.metadata,
            created_at: ep.created_at,
            updated_at: ep.updated_at,
        }
    }
}

/// Loads an endpoint of `app` by id or uid; 404 if missing.
/// A page of endpoints (`ListResponse_EndpointOut_`).
type EndpointList = ListResponse<EndpointOut>;

pub async fn load_endpoint(state: &ApiState, app: &AppId, id_or_uid: &str) -> ApiResult<Endpoint> {
    state
        .store
        .get_endpoint(app, id_or_uid)
        .await
        .map_err(|e| ApiError::from_store("endpoint", e))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(key) => ApiError::Conflict(format!(
            "an endpoint with this {key} already exists in this application"
        )),
        StoreError::NotFound => ApiError::not_found("endpoint"),
        other => other.into(),
    }
}

/// Warns when `ep`'s URL host is an address deliveries will refuse (an IP literal or
/// `localhost` outside `allowed_networks`): the endpoint is accepted, as Svix does, but
/// every attempt would fail. Logs the host only: a URL's path and query may hold a token.
fn warn_if_refused(state: &ApiState, ep: &Endpoint) {
    let Ok(url) = url::Url::parse(&ep.url) else {
        return;
    };
    let Some(host) = url.host() else { return };
    if let Err(blocked) = state.engine.ssrf_policy().check_host(&host) {
        tracing::warn!(
            app.id = %ep.app_id,
            endpoint.id = %ep.id,
            url.host = %host,
            "endpoint accepted, but its deliveries will be refused: {blocked}"
        );
    }
}

/// Tells the delivery engine that `ep` of `app` changed (written already), and drops the
/// app's fan-out entry on this node.
pub(super) async fn changed(
    state: &ApiState,
    cache: &FanOutCache,
    app: &Application,
    ep: &Endpoint,
    change: EndpointChange,
) {
    state.engine.endpoint_changed(app, ep, change).await;
    cache.invalidate(&ep.app_id);
}

/// `GET /app/{app_id}/endpoint`: newest first unless `order=ascending`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint",
    operation_id = "v1.endpoint.list", summary = "List an application's endpoints",
    params(AppPath, PageParams),
    responses((status = 200, description = "A page of endpoints, newest first unless `order=ascending`", body = EndpointList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = load_app(&state, &app_id).await?;
    let cursor = params.cursor(true)?;
    let page = state.store.list_endpoints(&app.id, &cursor.request).await?;
    Ok(Json(cursor.respond(
        page,
        |e| e.id.to_string(),
        EndpointOut::from,
    )))
}

/// `POST /app/{app_id}/endpoint`: 201. The secret is generated unless given.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint", tag = "Endpoint",
    operation_id = "v1.endpoint.create", summary = "Create an endpoint",
    params(AppPath), request_body = EndpointIn,
    responses((status = 201, description = "Created; its signing secret is generated unless given", body = EndpointOut)))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(mut body): ApiJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let secret = signing_key(body.secret.take(), body.key_type.take(), "secret")?;
    let app = load_app(&state, &app_id).await?;
    let mut ep = Endpoint::new(&app.id, String::new(), secret, Timestamp::now());
    apply_in(&state, &mut ep, body).await?;
    state.store.create_endpoint(&ep).await.map_err(conflict)?;
    changed(&state, &cache, &app, &ep, EndpointChange::Created).await;
    warn_if_refused(&state, &ep);
    Ok((StatusCode::CREATED, Json(ep.into())))
}

/// `GET /app/{app_id}/endpoint/{endpoint_id}`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    operation_id = "v1.endpoint.get", summary = "Get an endpoint",
    params(EndpointPath),
    responses((status = 200, description = "The endpoint", body = EndpointOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let app = load_app(&state, &app_id).await?;
    Ok(Json(load_endpoint(&state, &app.id, &ep_id).await?.into()))
}

/// `PUT /app/{app_id}/endpoint/{endpoint_id}`: replaces, or creates (201) with the path as
/// its uid.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    operation_id = "v1.endpoint.update", summary = "Replace or create an endpoint",
    params(EndpointPath), request_body = EndpointIn,
    responses((status = 200, description = "Replaced", body = EndpointOut), (status = 201, description = "Created, with the path as its uid", body = EndpointOut)))]
pub async fn upsert(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(mut body): ApiJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = load_app(&state, &app_id).await?;
    let secret = body.secret.take();
    let key_type = body.key_type.take();
    match state.store.get_endpoint(&app.id, &ep_id).await {
        Ok(mut ep) => {
            let was_disabled = ep.disabled;
            apply_in(&state, &mut ep, body).await?;
            state.store.update_endpoint(&ep).await.map_err(conflict)?;
            let change = EndpointChange::Updated { was_disabled };
            changed(&state, &cache, &app, &ep, change).await;
            warn_if_refused(&state, &ep);
            Ok((StatusCode::OK, Json(ep.into())))
        }
        Err(StoreError::NotFound) => {
            body::check_uid(Some(&ep_id))?;
            let secret = signing_key(secret, key_type, "secret")?;
            let mut ep = Endpoint::new(&app.id, String::new(), secret, Timestamp::now());
            ep.uid = Some(ep_id);
            apply_in(&state, &mut ep, body).await?;
            state.store.create_endpoint(&ep).await.map_err(conflict)?;
            changed(&state, &cache, &app, &ep, EndpointChange::Created).await;
            warn_if_refused(&state, &ep);
            Ok((StatusCode::CREATED, Json(ep.into())))
        }
        Err(e) => Err(e.into()),
    }
}

/// `PATCH /app/{app_id}/endpoint/{endpoint_id}`.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    operation_id = "v1.endpoint.patch", summary = "Change some of an endpoint's fields",
    params(EndpointPath), request_body = EndpointPatch,
    responses((status = 200, description = "Changed", body = EndpointOut)))]
pub async fn patch(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<EndpointPatch>,
) -> ApiResult<Json<EndpointOut>> {
    let app = load_app(&state, &app_id).await?;
    let mut ep = load_endpoint(&state, &app.id, &ep_id).await?;
    let was_disabled = ep.disabled;
    let old_url = ep.url.clone();
    apply_patch(&state, &mut ep, body).await?;
    ep.updated_at = Timestamp::now();
    state.store.update_endpoint(&ep).await.map_err(conflict)?;
    let change = EndpointChange::Updated { was_disabled };
    changed(&state, &cache, &app, &ep, change).await;
    if ep.url != old_url {
        warn_if_refused(&state, &ep);
    }
    Ok(Json(ep.into()))
}

/// `DELETE /app/{app_id}/endpoint/{endpoint_id}`: 204.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}", tag = "Endpoint",
    operation_id = "v1.endpoint.delete", summary = "Delete an endpoint",
    params(EndpointPath),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    state
        .store
        .delete_endpoint(&app.id, &ep.id)
        .await
        .map_err(|e| ApiError::from_store("endpoint", e))?;
    changed(&state, &cache, &app, &ep, EndpointChange::Deleted).await;
    Ok(StatusCode::NO_CONTENT)
}
