//! An endpoint's custom headers: `/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers`.
//!
//! - `GET`: `{"headers": {...}, "sensitive": [...]}`. Credentials (see
//!   `validate::is_sensitive_header`) are listed by name in `sensitive` and their values
//!   left out, as in Svix.
//! - `PUT`: replaces every custom header; 204.
//! - `PATCH`: sets the given headers and removes those given as `null`; 204.
//!
//! Names are case-insensitive: a header set again under another case replaces the old one.
//! Hop-by-hop headers, `host`, `content-*` and the signature headers are refused with 422.

use super::body::check_headers;
use super::{changed, load_endpoint};
use crate::api::app::load_app;
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath};
use crate::api::http::paths::EndpointPath;
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use hookd_core::model::{Application, Endpoint};
use hookd_core::{validate, Timestamp};
use hookd_delivery::EndpointChange;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use utoipa::ToSchema;

#[derive(Debug, Serialize, ToSchema)]
#[schema(as = EndpointHeadersOut)]
pub struct HeadersOut {
    headers: BTreeMap<String, String>,
    sensitive: Vec<String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EndpointHeadersIn)]
pub struct HeadersIn {
    headers: BTreeMap<String, String>,
}

#[derive(Debug, Deserialize, ToSchema)]
#[schema(as = EndpointHeadersPatchIn)]
pub struct HeadersPatch {
    headers: BTreeMap<String, Option<String>>,
}

/// `GET .../headers`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    operation_id = "v1.endpoint.get-headers", summary = "Get an endpoint's custom headers",
    params(EndpointPath),
    responses((status = 200, description = "The headers; the values of sensitive ones are hidden", body = HeadersOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
) -> ApiResult<Json<HeadersOut>> {
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    let (sensitive, shown): (BTreeMap<_, _>, BTreeMap<_, _>) = ep
        .headers
        .into_iter()
        .partition(|(name, _)| validate::is_sensitive_header(&name.to_ascii_lowercase()));
    Ok(Json(HeadersOut {
        headers: shown,
        sensitive: sensitive.into_keys().collect(),
    }))
}

/// `PUT .../headers`: 204.
#[utoipa::path(put, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    operation_id = "v1.endpoint.update-headers", summary = "Replace an endpoint's custom headers",
    params(EndpointPath), request_body = HeadersIn,
    responses((status = 204, description = "Replaced")))]
pub async fn update(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<HeadersIn>,
) -> ApiResult<StatusCode> {
    check_headers(&body.headers)?;
    let app = load_app(&state, &app_id).await?;
    let mut ep = load_endpoint(&state, &app.id, &ep_id).await?;
    ep.headers = body.headers;
    save(&state, &cache, &app, ep).await
}

/// `PATCH .../headers`: 204.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/headers", tag = "Endpoint",
    operation_id = "v1.endpoint.patch-headers", summary = "Change some of an endpoint's custom headers",
    params(EndpointPath), request_body = HeadersPatch,
    responses((status = 204, description = "Changed")))]
pub async fn patch(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<HeadersPatch>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let mut ep = load_endpoint(&state, &app.id, &ep_id).await?;
    for (name, value) in body.headers {
        let lower = name.to_ascii_lowercase();
        ep.headers.retain(|k, _| k.to_ascii_lowercase() != lower);
        if let Some(value) = value {
            ep.headers.insert(name, value);
        }
    }
    check_headers(&ep.headers)?;
    save(&state, &cache, &app, ep).await
}

async fn save(
    state: &ApiState,
    cache: &FanOutCache,
    app: &Application,
    mut ep: Endpoint,
) -> ApiResult<StatusCode> {
    ep.updated_at = Timestamp::now();
    state
        .store
        .update_endpoint(&ep)
        .await
        .map_err(|e| ApiError::from_store("endpoint", e))?;
    changed(state, cache, app, &ep, EndpointChange::HeadersChanged).await;
    Ok(StatusCode::NO_CONTENT)
}
