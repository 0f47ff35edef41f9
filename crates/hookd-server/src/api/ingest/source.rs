//! Ingest sources: `/ingest/api/v1/source` (Svix Ingest's management API), id or uid
//! everywhere.
//!
//! A source owns an internal application (uid [`app_uid`]) whose endpoints are the
//! source's ingest endpoints ([`super::endpoint`]); it is created and deleted with
//! the source and hidden from `GET /api/v1/app`. The receive URL is
//! `{public_url}/ingest/{token}`; rotating the token keeps the old one valid for
//! [`TOKEN_GRACE`].

use super::source_type::{empty_config, provider_config, public_config, reported_type};
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::SourcePath;
use crate::api::{app, ApiState};
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use hookd_core::ids::{AppId, SourceId};
use hookd_core::model::{Application, IngestSource, Metadata, PreviousToken};
use hookd_core::{validate, Timestamp};
use hookd_store::StoreError;
use rand::RngCore;
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::ToSchema;

/// How long a rotated-out receive token keeps working.
pub const TOKEN_GRACE: Duration = Duration::from_secs(86_400);

pub use hookd_core::model::ingest_app_uid as app_uid;

/// Body of create and replace (`IngestSourceIn`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IngestSourceIn)]
pub struct SourceIn {
    name: String,
    #[serde(default)]
    uid: Option<String>,
    #[serde(rename = "type")]
    source_type: String,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    config: Option<serde_json::Value>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// `IngestSourceOut`, plus `hookdType` (see [`super::source_type`]).
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = IngestSourceOut)]
pub struct SourceOut {
    id: SourceId,
    uid: Option<String>,
    name: String,
    #[serde(rename = "type")]
    reported_type: String,
    hookd_type: String,
    #[schema(value_type = Object)]
    config: serde_json::Value,
    #[schema(value_type = BTreeMap<String, String>)]
    metadata: Metadata,
    ingest_url: String,
    created_at: Timestamp,
    updated_at: Timestamp,
}

/// `RotateTokenOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RotateTokenOut {
    ingest_url: String,
}

fn ingest_url(state: &ApiState, token: &str) -> String {
    format!("{}/ingest/{token}", state.public_url)
}

fn out(state: &ApiState, s: IngestSource) -> SourceOut {
    SourceOut {
        ingest_url: ingest_url(state, &s.token),
        reported_type: reported_type(&s.source_type).to_owned(),
        config: public_config(&s.config),
        hookd_type: s.source_type,
        id: s.id,
        uid: s.uid,
        name: s.name,
        metadata: s.metadata,
        created_at: s.created_at,
        updated_at: s.updated_at,
    }
}

/// 32 random bytes, URL-safe: the unguessable part of a receive URL.
fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Validates a body; returns the config to store.
fn check_in(body: &SourceIn) -> ApiResult<serde_json::Value> {
    if body.name.trim().is_empty() || body.name.len() > 256 {
        return Err(ApiError::field("name", "name must be 1 to 256 characters"));
    }
    if let Some(uid) = &body.uid {
        validate::resource_uid(uid, SourceId::PREFIX).map_err(|m| ApiError::field("uid", m))?;
    }
    let config = body.config.clone().unwrap_or_else(empty_config);
    provider_config(&body.source_type, &config)?;
    Ok(config)
}

/// Loads a source by id or uid; 404 `not_found` if it does not exist.
/// A page of ingest sources (`ListResponse_IngestSourceOut_`).
type SourceList = ListResponse<SourceOut>;

pub async fn load_source(state: &ApiState, id_or_uid: &str) -> ApiResult<IngestSource> {
    state
        .store
        .get_source(id_or_uid)
        .await
        .map_err(|e| ApiError::from_store("ingest source", e))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(key) => {
            ApiError::Conflict(format!("an ingest source with this {key} already exists"))
        }
        StoreError::NotFound => ApiError::not_found("ingest source"),
        other => other.into(),
    }
}

/// `GET /source`: newest first unless `order=ascending`.
#[utoipa::path(get, path = "/ingest/api/v1/source", tag = "Ingest",
    operation_id = "v1.ingest.source.list", summary = "List ingest sources",
    params(PageParams),
    responses((status = 200, description = "A page of sources, newest first unless `order=ascending`", body = SourceList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<SourceOut>>> {
    let cursor = params.cursor(true)?;
    let page = state.store.list_sources(&cursor.request).await?;
    Ok(Json(cursor.respond(
        page,
        |s| s.id.to_string(),
        |s| out(&state, s),
    )))
}

/// `POST /source`: 201, with the source's internal application created alongside.
#[utoipa::path(post, path = "/ingest/api/v1/source", tag = "Ingest",
    operation_id = "v1.ingest.source.create", summary = "Create an ingest source", request_body = SourceIn,
    responses((status = 201, description = "Created, with its receive URL", body = SourceOut)))]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(body): ApiJson<SourceIn>,
) -> ApiResult<(StatusCode, Json<SourceOut>)> {
    let config = check_in(&body)?;
    let now = Timestamp::now();
    let source = IngestSource {
        id: SourceId::generate_at(now),
        uid: body.uid,
        name: body.name,
        source_type: body.source_type,
        config,
        metadata: body.metadata.unwrap_or_default(),
        token: new_token(),
        previous_token: None,
        created_at: now,
        updated_at: now,
    };
    state.store.create_source(&source).await.map_err(conflict)?;
    let internal = Application {
        id: AppId::generate_at(now),
        uid: Some(app_uid(&source.id)),
        name: format!("ingest source {}", source.id),
        rate_limit: None,
        metadata: Metadata::new(),
        created_at: now,
        updated_at: now,
    };
    if let Err(e) = state.store.create_app(&internal).await {
        // Without its application the source could not forward: undo, best effort.
        let _ = state.store.delete_source(&source.id).await;
        return Err(e.into());
    }
    Ok((StatusCode::CREATED, Json(out(&state, source))))
}

/// `GET /source/{source_id}`.
#[utoipa::path(get, path = "/ingest/api/v1/source/{source_id}", tag = "Ingest",
    operation_id = "v1.ingest.source.get", summary = "Get an ingest source",
    params(SourcePath),
    responses((status = 200, description = "The source", body = SourceOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath(source_id): ApiPath<String>,
) -> ApiResult<Json<SourceOut>> {
    Ok(Json(out(&state, load_source(&state, &source_id).await?)))
}

/// `PUT /source/{source_id}`: replaces name, uid (kept when absent), type, config and
/// metadata; the receive token stays.
#[utoipa::path(put, path = "/ingest/api/v1/source/{source_id}", tag = "Ingest",
    operation_id = "v1.ingest.source.update", summary = "Replace an ingest source",
    params(SourcePath), request_body = SourceIn,
    responses((status = 200, description = "Replaced", body = SourceOut)))]
pub async fn update(
    State(state): State<ApiState>,
    ApiPath(source_id): ApiPath<String>,
    ApiJson(body): ApiJson<SourceIn>,
) -> ApiResult<Json<SourceOut>> {
    let config = check_in(&body)?;
    let mut source = load_source(&state, &source_id).await?;
    source.name = body.name;
    source.uid = body.uid.or(source.uid);
    source.source_type = body.source_type;
    source.config = config;
    source.metadata = body.metadata.unwrap_or_default();
    source.updated_at = Timestamp::now();
    state.store.update_source(&source).await.map_err(conflict)?;
    Ok(Json(out(&state, source)))
}

/// `DELETE /source/{source_id}`: 204; its internal application (endpoints, messages) goes
/// with it.
#[utoipa::path(delete, path = "/ingest/api/v1/source/{source_id}", tag = "Ingest",
    operation_id = "v1.ingest.source.delete", summary = "Delete an ingest source and everything it received",
    params(SourcePath),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(source_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let source = load_source(&state, &source_id).await?;
    match app::delete(
        State(state.clone()),
        Extension(cache),
        ApiPath(app_uid(&source.id)),
    )
    .await
    {
        Ok(_) | Err(ApiError::NotFound(_)) => {}
        Err(e) => return Err(e),
    }
    state
        .store
        .delete_source(&source.id)
        .await
        .map_err(|e| ApiError::from_store("ingest source", e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /source/{source_id}/token/rotate`: a new receive URL; the old one keeps working
/// for [`TOKEN_GRACE`] (only the latest rotated-out token is kept).
#[utoipa::path(post, path = "/ingest/api/v1/source/{source_id}/token/rotate", tag = "Ingest",
    operation_id = "v1.ingest.source.rotate-token", summary = "Give a source a new receive URL",
    params(SourcePath),
    responses((status = 200, description = "The new receive URL; the old one keeps working for a while", body = RotateTokenOut)))]
pub async fn rotate_token(
    State(state): State<ApiState>,
    ApiPath(source_id): ApiPath<String>,
) -> ApiResult<Json<RotateTokenOut>> {
    let mut source = load_source(&state, &source_id).await?;
    let now = Timestamp::now();
    let old = std::mem::replace(&mut source.token, new_token());
    source.previous_token = Some(PreviousToken {
        token: old,
        expires_at: now.plus_millis(TOKEN_GRACE.as_millis() as i64),
    });
    source.updated_at = now;
    state.store.update_source(&source).await.map_err(conflict)?;
    Ok(Json(RotateTokenOut {
        ingest_url: ingest_url(&state, &source.token),
    }))
}
