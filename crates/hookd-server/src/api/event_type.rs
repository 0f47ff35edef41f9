//! Event types: `/api/v1/event-type` and `/api/v1/event-type/{event_type_name}`. Addressed by name;
//! DELETE archives unless `expunge=true`.

use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{double_option, not_null, ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::EventTypePath;
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookd_core::model::EventType;
use hookd_core::{validate, Timestamp};
use hookd_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of create (`EventTypeIn`, with `name`) and replace (`EventTypeUpsertIn`, without).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeIn {
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    description: String,
    #[serde(default)]
    archived: bool,
    #[serde(default)]
    deprecated: bool,
    #[schema(value_type = Option<Object>)]
    #[serde(default)]
    schemas: Option<serde_json::Value>,
    #[serde(default)]
    feature_flag: Option<String>,
    /// Newer SDKs send a list; hookd keeps one flag.
    #[serde(default)]
    feature_flags: Option<Vec<String>>,
}

/// Body of PATCH (`EventTypePatch`): absent fields stay, `null` clears a nullable one and
/// is refused for the others (`description`, `archived`, `deprecated`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypePatch {
    #[serde(default, deserialize_with = "not_null")]
    description: Option<String>,
    #[serde(default, deserialize_with = "not_null")]
    archived: Option<bool>,
    #[serde(default, deserialize_with = "not_null")]
    deprecated: Option<bool>,
    #[schema(value_type = Option<Object>)]
    #[serde(default, deserialize_with = "double_option")]
    schemas: Option<Option<serde_json::Value>>,
    #[serde(default, deserialize_with = "double_option")]
    feature_flag: Option<Option<String>>,
    #[serde(default)]
    feature_flags: Option<Vec<String>>,
}

/// `EventTypeOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct EventTypeOut {
    name: String,
    description: String,
    archived: bool,
    deprecated: bool,
    #[schema(value_type = Option<Object>)]
    schemas: Option<serde_json::Value>,
    feature_flag: Option<String>,
    feature_flags: Option<Vec<String>>,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<EventType> for EventTypeOut {
    fn from(et: EventType) -> Self {
        Self {
            feature_flags: et.feature_flag.clone().map(|f| vec![f]),
            name: et.name,
            description: et.description,
            archived: et.archived,
            deprecated: et.deprecated,
            schemas: et.schemas,
            feature_flag: et.feature_flag,
            created_at: et.created_at,
            updated_at: et.updated_at,
        }
    }
}

fn check_schemas(schemas: &Option<serde_json::Value>) -> ApiResult<()> {
    match schemas {
        Some(v) if !v.is_object() => Err(ApiError::field("schemas", "schemas must be an object")),
        _ => Ok(()),
    }
}

/// Folds `featureFlag` and `featureFlags` into the one flag hookd stores.
fn one_flag(flag: Option<String>, flags: Option<Vec<String>>) -> ApiResult<Option<String>> {
    let flag = match (flag, flags) {
        (Some(flag), _) => Some(flag),
        (None, Some(flags)) if flags.len() > 1 => {
            return Err(ApiError::field(
                "featureFlags",
                "featureFlags supports at most one flag",
            ))
        }
        (None, Some(flags)) => flags.into_iter().next(),
        (None, None) => None,
    };
    if let Some(f) = &flag {
        validate::event_type_name(f).map_err(|m| ApiError::field("featureFlag", m))?;
    }
    Ok(flag)
}

fn build(name: String, body: EventTypeIn, created_at: Timestamp) -> ApiResult<EventType> {
    check_schemas(&body.schemas)?;
    Ok(EventType {
        name,
        description: body.description,
        archived: body.archived,
        deprecated: body.deprecated,
        schemas: body.schemas,
        feature_flag: one_flag(body.feature_flag, body.feature_flags)?,
        created_at,
        updated_at: Timestamp::now(),
    })
}

fn check_name(name: &str) -> ApiResult<()> {
    validate::event_type_name(name).map_err(|m| ApiError::field("name", m))
}

/// A page of event types (`ListResponse_EventTypeOut_`).
type EventTypeList = ListResponse<EventTypeOut>;

async fn load(state: &ApiState, name: &str) -> ApiResult<EventType> {
    state
        .store
        .get_event_type(name)
        .await
        .map_err(|e| ApiError::from_store("event type", e))
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(_) => {
            ApiError::Conflict("an event type with this name already exists".into())
        }
        StoreError::NotFound => ApiError::not_found("event type"),
        other => other.into(),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Include archived event types.
    #[serde(default)]
    include_archived: bool,
    /// Accepted for compatibility: event types always carry their schemas.
    #[allow(dead_code)]
    with_content: Option<bool>,
}

/// `GET /event-type`: by name.
#[utoipa::path(get, path = "/api/v1/event-type", tag = "Event Type",
    operation_id = "v1.event-type.list", summary = "List event types",
    params(PageParams, ListParams),
    responses((status = 200, description = "A page of event types, by name", body = EventTypeList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<EventTypeOut>>> {
    let cursor = page.cursor(false)?;
    let page = state
        .store
        .list_event_types(&cursor.request, params.include_archived)
        .await?;
    Ok(Json(cursor.respond(
        page,
        |e| e.name.clone(),
        EventTypeOut::from,
    )))
}

/// `POST /event-type`: 201; 409 if the name exists.
#[utoipa::path(post, path = "/api/v1/event-type", tag = "Event Type",
    operation_id = "v1.event-type.create", summary = "Create an event type",
    params(), request_body = EventTypeIn,
    responses((status = 201, description = "Created", body = EventTypeOut)))]
pub async fn create(
    State(state): State<ApiState>,
    ApiJson(mut body): ApiJson<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    let Some(name) = body.name.take() else {
        return Err(ApiError::field("name", "missing field `name`"));
    };
    check_name(&name)?;
    let et = build(name, body, Timestamp::now())?;
    state.store.create_event_type(&et).await.map_err(conflict)?;
    Ok((StatusCode::CREATED, Json(et.into())))
}

/// `GET /event-type/{event_type_name}` (archived types too).
#[utoipa::path(get, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    operation_id = "v1.event-type.get", summary = "Get an event type (archived ones too)",
    params(EventTypePath),
    responses((status = 200, description = "The event type", body = EventTypeOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
) -> ApiResult<Json<EventTypeOut>> {
    Ok(Json(load(&state, &name).await?.into()))
}

/// `PUT /event-type/{event_type_name}`: replaces, or creates (201).
#[utoipa::path(put, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    operation_id = "v1.event-type.update", summary = "Replace or create an event type",
    params(EventTypePath), request_body(content = EventTypeIn, description = "`name` is taken from the path"),
    responses((status = 200, description = "Replaced", body = EventTypeOut), (status = 201, description = "Created", body = EventTypeOut)))]
pub async fn upsert(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<EventTypeIn>,
) -> ApiResult<(StatusCode, Json<EventTypeOut>)> {
    match state.store.get_event_type(&name).await {
        Ok(existing) => {
            let et = build(name, body, existing.created_at)?;
            state.store.update_event_type(&et).await.map_err(conflict)?;
            Ok((StatusCode::OK, Json(et.into())))
        }
        Err(StoreError::NotFound) => {
            check_name(&name)?;
            let et = build(name, body, Timestamp::now())?;
            state.store.create_event_type(&et).await.map_err(conflict)?;
            Ok((StatusCode::CREATED, Json(et.into())))
        }
        Err(e) => Err(e.into()),
    }
}

/// `PATCH /event-type/{event_type_name}`.
#[utoipa::path(patch, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    operation_id = "v1.event-type.patch", summary = "Change some of an event type's fields",
    params(EventTypePath), request_body = EventTypePatch,
    responses((status = 200, description = "Changed", body = EventTypeOut)))]
pub async fn patch(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiJson(body): ApiJson<EventTypePatch>,
) -> ApiResult<Json<EventTypeOut>> {
    let mut et = load(&state, &name).await?;
    if let Some(d) = body.description {
        et.description = d;
    }
    if let Some(a) = body.archived {
        et.archived = a;
    }
    if let Some(d) = body.deprecated {
        et.deprecated = d;
    }
    if let Some(s) = body.schemas {
        check_schemas(&s)?;
        et.schemas = s;
    }
    match (body.feature_flag, body.feature_flags) {
        (Some(flag), _) => et.feature_flag = one_flag(flag, None)?,
        (None, Some(flags)) => et.feature_flag = one_flag(None, Some(flags))?,
        (None, None) => {}
    }
    et.updated_at = Timestamp::now();
    state.store.update_event_type(&et).await.map_err(conflict)?;
    Ok(Json(et.into()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct DeleteParams {
    /// Delete the event type instead of archiving it.
    #[serde(default)]
    expunge: bool,
}

/// `DELETE /event-type/{event_type_name}`: archives it, or removes it with `expunge=true`. 204.
#[utoipa::path(delete, path = "/api/v1/event-type/{event_type_name}", tag = "Event Type",
    operation_id = "v1.event-type.delete", summary = "Archive an event type, or delete it with `expunge=true`",
    params(EventTypePath, DeleteParams),
    responses((status = 204, description = "Archived or deleted")))]
pub async fn delete(
    State(state): State<ApiState>,
    ApiPath(name): ApiPath<String>,
    ApiQuery(params): ApiQuery<DeleteParams>,
) -> ApiResult<StatusCode> {
    if params.expunge {
        state
            .store
            .delete_event_type(&name)
            .await
            .map_err(|e| ApiError::from_store("event type", e))?;
    } else {
        let mut et = load(&state, &name).await?;
        if !et.archived {
            et.archived = true;
            et.updated_at = Timestamp::now();
            state.store.update_event_type(&et).await.map_err(conflict)?;
        }
    }
    Ok(StatusCode::NO_CONTENT)
}
