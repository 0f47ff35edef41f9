//! Ingest endpoints: `/ingest/api/v1/source/{source_id}/endpoint…`, the internal services a
//! source forwards to. They are the endpoints of the source's internal application, so
//! each handler resolves the source and calls the application endpoint handler with the
//! application's uid: one implementation, one validation, for both APIs.

use super::source::{app_uid, load_source};
use crate::api::endpoint::body::EndpointIn;
use crate::api::endpoint::headers::{HeadersIn, HeadersOut, HeadersPatch};
use crate::api::endpoint::secret::{RotateIn, SecretOut};
use crate::api::endpoint::{self, EndpointOut};
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::ApiResult;
use crate::api::http::extract::{ApiJson, ApiPath, ApiQuery, OptionalJson};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::{SourceEndpointPath, SourcePath};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};

/// The internal application's uid for the source named by `source_id` (404 if none).
async fn app_of(state: &ApiState, source_id: &str) -> ApiResult<String> {
    Ok(app_uid(&load_source(state, source_id).await?.id))
}

/// A page of endpoints (`ListResponse_EndpointOut_`).
type EndpointList = ListResponse<EndpointOut>;

/// `GET /source/{source_id}/endpoint`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}/endpoint", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.list", summary = "List a source's endpoints",
    params(SourcePath, PageParams),
    responses((status = 200, description = "A page of endpoints", body = EndpointList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiPath(source_id): ApiPath<String>,
    query: ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<EndpointOut>>> {
    let app = app_of(&state, &source_id).await?;
    endpoint::list(State(state), ApiPath(app), query).await
}

/// `POST /source/{source_id}/endpoint`: 201.
#[utoipa::path(post, path = "/ingest/api/v1/source/{source_id}/endpoint", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.create", summary = "Create an endpoint that received events are forwarded to",
    params(SourcePath), request_body = EndpointIn,
    responses((status = 201, description = "Created", body = EndpointOut)))]
pub async fn create(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath(source_id): ApiPath<String>,
    body: ApiJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = app_of(&state, &source_id).await?;
    endpoint::create(State(state), cache, ApiPath(app), body).await
}

/// `GET /source/{source_id}/endpoint/{endpoint_id}`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.get", summary = "Get a source's endpoint",
    params(SourceEndpointPath),
    responses((status = 200, description = "The endpoint", body = EndpointOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
) -> ApiResult<Json<EndpointOut>> {
    let app = app_of(&state, &source_id).await?;
    endpoint::get(State(state), ApiPath((app, ep))).await
}

/// `PUT /source/{source_id}/endpoint/{endpoint_id}`.
#[utoipa::path(put, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.update", summary = "Replace or create a source's endpoint",
    params(SourceEndpointPath), request_body = EndpointIn,
    responses((status = 200, description = "Replaced", body = EndpointOut), (status = 201, description = "Created", body = EndpointOut)))]
pub async fn upsert(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
    body: ApiJson<EndpointIn>,
) -> ApiResult<(StatusCode, Json<EndpointOut>)> {
    let app = app_of(&state, &source_id).await?;
    endpoint::upsert(State(state), cache, ApiPath((app, ep)), body).await
}

/// `DELETE /source/{source_id}/endpoint/{endpoint_id}`: 204.
#[utoipa::path(delete, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.delete", summary = "Delete a source's endpoint",
    params(SourceEndpointPath),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = app_of(&state, &source_id).await?;
    endpoint::delete(State(state), cache, ApiPath((app, ep))).await
}

/// `GET /source/{source_id}/endpoint/{endpoint_id}/secret`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.get-secret", summary = "Get a source endpoint's signing secret",
    params(SourceEndpointPath),
    responses((status = 200, description = "The key forwarded events are signed with", body = SecretOut)))]
pub async fn secret(
    State(state): State<ApiState>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
) -> ApiResult<Json<SecretOut>> {
    let app = app_of(&state, &source_id).await?;
    endpoint::secret::get(State(state), ApiPath((app, ep))).await
}

/// `POST /source/{source_id}/endpoint/{endpoint_id}/secret/rotate`.
#[utoipa::path(post, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/secret/rotate", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.rotate-secret", summary = "Rotate a source endpoint's signing secret",
    params(SourceEndpointPath), request_body(content = Option<RotateIn>, description = "Optional: an empty body generates a new key"),
    responses((status = 200, description = "Rotated; the new key", body = SecretOut)))]
pub async fn rotate_secret(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
    body: OptionalJson<RotateIn>,
) -> ApiResult<Json<SecretOut>> {
    let app = app_of(&state, &source_id).await?;
    endpoint::secret::rotate(State(state), cache, ApiPath((app, ep)), body).await
}

/// `GET /source/{source_id}/endpoint/{endpoint_id}/headers`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.get-headers", summary = "Get a source endpoint's custom headers",
    params(SourceEndpointPath),
    responses((status = 200, description = "The headers", body = HeadersOut)))]
pub async fn headers(
    State(state): State<ApiState>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
) -> ApiResult<Json<HeadersOut>> {
    let app = app_of(&state, &source_id).await?;
    endpoint::headers::get(State(state), ApiPath((app, ep))).await
}

/// `PUT /source/{source_id}/endpoint/{endpoint_id}/headers`.
#[utoipa::path(put, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.update-headers", summary = "Replace a source endpoint's custom headers",
    params(SourceEndpointPath), request_body = HeadersIn,
    responses((status = 204, description = "Replaced")))]
pub async fn update_headers(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
    body: ApiJson<HeadersIn>,
) -> ApiResult<StatusCode> {
    let app = app_of(&state, &source_id).await?;
    endpoint::headers::update(State(state), cache, ApiPath((app, ep)), body).await
}

/// `PATCH /source/{source_id}/endpoint/{endpoint_id}/headers`.
#[utoipa::path(patch, path = "/ingest/api/v1/source/{source_id}/endpoint/{endpoint_id}/headers", tag = "Ingest",
    operation_id = "v1.ingest.endpoint.patch-headers", summary = "Change some of a source endpoint's custom headers",
    params(SourceEndpointPath), request_body = HeadersPatch,
    responses((status = 204, description = "Changed")))]
pub async fn patch_headers(
    State(state): State<ApiState>,
    cache: Extension<FanOutCache>,
    ApiPath((source_id, ep)): ApiPath<(String, String)>,
    body: ApiJson<HeadersPatch>,
) -> ApiResult<StatusCode> {
    let app = app_of(&state, &source_id).await?;
    endpoint::headers::patch(State(state), cache, ApiPath((app, ep)), body).await
}
