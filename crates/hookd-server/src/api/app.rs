//! Applications: `/api/v1/app` and `/api/v1/app/{app_id}` (id or uid everywhere).

use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{double_option, not_null, ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::AppPath;
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use hookd_core::ids::AppId;
use hookd_core::model::{self, Application, Metadata};
use hookd_core::{validate, Timestamp};
use hookd_delivery::EndpointChange;
use hookd_store::StoreError;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// Body of create and replace (`ApplicationIn`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApplicationIn)]
pub struct AppIn {
    /// 1 to 256 characters.
    #[schema(min_length = 1, max_length = 256, examples("Acme Inc."))]
    name: String,
    /// Your own unique id for the application, usable wherever its id is.
    #[serde(default)]
    #[schema(min_length = 1, max_length = 256, pattern = r"^[a-zA-Z0-9\-_.]+$")]
    uid: Option<String>,
    /// Most deliveries per second to each of its endpoints (also accepted as `throttleRate`).
    #[serde(default, alias = "throttleRate")]
    rate_limit: Option<u32>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    #[serde(default)]
    metadata: Option<Metadata>,
}

/// Body of PATCH (`ApplicationPatch`): absent fields stay, `null` clears a nullable one
/// and is refused for the others (`name`, `metadata`).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApplicationPatch)]
pub struct AppPatch {
    #[serde(default, deserialize_with = "not_null")]
    name: Option<String>,
    #[serde(default, deserialize_with = "double_option")]
    uid: Option<Option<String>>,
    #[serde(default, alias = "throttleRate", deserialize_with = "double_option")]
    rate_limit: Option<Option<u32>>,
    #[schema(value_type = Option<BTreeMap<String, String>>)]
    #[serde(default, deserialize_with = "not_null")]
    metadata: Option<Metadata>,
}

/// `ApplicationOut`. The rate limit is given under both its old (`rateLimit`) and current
/// (`throttleRate`) Svix names so SDKs of either age read it.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = ApplicationOut)]
pub struct AppOut {
    id: AppId,
    uid: Option<String>,
    name: String,
    rate_limit: Option<u32>,
    throttle_rate: Option<u32>,
    #[schema(value_type = BTreeMap<String, String>)]
    metadata: Metadata,
    created_at: Timestamp,
    updated_at: Timestamp,
}

impl From<Application> for AppOut {
    fn from(app: Application) -> Self {
        Self {
            id: app.id,
            uid: app.uid,
            name: app.name,
            rate_limit: app.rate_limit,
            throttle_rate: app.rate_limit,
            metadata: app.metadata,
            created_at: app.created_at,
            updated_at: app.updated_at,
        }
    }
}

/// A page of applications (`ListResponse_ApplicationOut_`).
type AppList = ListResponse<AppOut>;

/// Loads an application by id or uid; 404 `not_found` if it does not exist.
pub async fn load_app(state: &ApiState, id_or_uid: &str) -> ApiResult<Application> {
    state
        .store
        .get_app(id_or_uid)
        .await
        .map_err(|e| ApiError::from_store("application", e))
}

fn check_name(name: &str) -> ApiResult<()> {
    if name.trim().is_empty() || name.len() > 256 {
        return Err(ApiError::field("name", "name must be 1 to 256 characters"));
    }
    Ok(())
}

fn check_uid(uid: Option<&str>) -> ApiResult<()> {
    match uid {
        Some(uid) => public_uid(uid),
        None => Ok(()),
    }
}

/// A uid an application made through the API may have: a valid uid outside the
/// namespaces of hookd's internal applications (422 `validation` otherwise).
fn public_uid(uid: &str) -> ApiResult<()> {
    validate::resource_uid(uid, AppId::PREFIX).map_err(|m| ApiError::field("uid", m))?;
    if model::is_internal_app_uid(uid) {
        return Err(ApiError::field(
            "uid",
            format!(
                "uid is reserved: {} and uids starting with {} name hookd's internal applications",
                model::OPERATIONAL_APP_UID,
                model::INGEST_APP_UID_PREFIX
            ),
        ));
    }
    Ok(())
}

fn check_in(body: &AppIn) -> ApiResult<()> {
    check_name(&body.name)?;
    check_uid(body.uid.as_deref())
}

fn new_app(body: AppIn) -> Application {
    let now = Timestamp::now();
    Application {
        id: AppId::generate_at(now),
        uid: body.uid,
        name: body.name,
        rate_limit: body.rate_limit,
        metadata: body.metadata.unwrap_or_default(),
        created_at: now,
        updated_at: now,
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct CreateParams {
    /// Answer 200 with the existing application when its `uid` is taken, instead of 409.
    #[serde(default)]
    get_if_exists: bool,
}

/// Loads the app, or creates it from `body` (uid defaulting to `id_or_uid`) when it does not
/// exist and a body is given — how `MessageIn.application` works.
pub async fn load_or_create_app(
    state: &ApiState,
    id_or_uid: &str,
    body: Option<AppIn>,
) -> ApiResult<Application> {
    let body = match state.store.get_app(id_or_uid).await {
        Ok(app) => return Ok(app),
        Err(StoreError::NotFound) => match body {
            Some(body) => body,
            None => return Err(ApiError::not_found("application")),
        },
        Err(e) => return Err(e.into()),
    };
    check_in(&body)?;
    let mut app = new_app(body);
    if app.uid.is_none() {
        public_uid(id_or_uid)?;
        app.uid = Some(id_or_uid.to_owned());
    }
    match state.store.create_app(&app).await {
        Ok(()) => Ok(app),
        Err(StoreError::Conflict(_)) => load_app(state, id_or_uid).await,
        Err(e) => Err(e.into()),
    }
}

/// `GET /app`: newest first unless `order=ascending`.
#[utoipa::path(get, path = "/api/v1/app", tag = "Application",
    operation_id = "v1.application.list", summary = "List applications",
    params(PageParams),
    responses((status = 200, description = "A page of applications, newest first unless `order=ascending`", body = AppList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<AppOut>>> {
    let cursor = params.cursor(true)?;
    let mut page = state.store.list_apps(&cursor.request).await?;
    // Internal applications are not the user's. A page that held only those is replaced
    // by the next one, so a walk never ends early on an empty page.
    loop {
        let last = page.items.last().map(|a| a.id.to_string());
        page.items.retain(|a| !a.is_internal());
        match last {
            Some(last) if page.items.is_empty() && page.has_more => {
                let mut next = cursor.request.clone();
                next.after = Some(last);
                page = state.store.list_apps(&next).await?;
            }
            _ => break,
        }
    }
    Ok(Json(cursor.respond(
        page,
        |a| a.id.to_string(),
        AppOut::from,
    )))
}

/// `POST /app`: 201, or 200 with the existing app when `get_if_exists` and the uid exists.
#[utoipa::path(post, path = "/api/v1/app", tag = "Application",
    operation_id = "v1.application.create", summary = "Create an application",
    params(CreateParams), request_body = AppIn,
    responses(
        (status = 201, description = "Created", body = AppOut),
        (status = 200, description = "`get_if_exists` and the uid exists: the existing application", body = AppOut),
    ))]
pub async fn create(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<CreateParams>,
    ApiJson(body): ApiJson<AppIn>,
) -> ApiResult<(StatusCode, Json<AppOut>)> {
    check_in(&body)?;
    if params.get_if_exists {
        if let Some(uid) = &body.uid {
            match state.store.get_app(uid).await {
                Ok(app) if app.uid.as_deref() == Some(uid) => {
                    return Ok((StatusCode::OK, Json(app.into())))
                }
                Ok(_) | Err(StoreError::NotFound) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    let app = new_app(body);
    match state.store.create_app(&app).await {
        Ok(()) => Ok((StatusCode::CREATED, Json(app.into()))),
        // Lost a race with a concurrent create of the same uid: answer with the winner.
        Err(StoreError::Conflict(_)) if params.get_if_exists => {
            let uid = app.uid.as_deref().unwrap_or_default();
            Ok((StatusCode::OK, Json(load_app(&state, uid).await?.into())))
        }
        Err(StoreError::Conflict(key)) => Err(ApiError::Conflict(format!(
            "an application with this {key} already exists"
        ))),
        Err(e) => Err(e.into()),
    }
}

/// `GET /app/{app_id}`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}", tag = "Application",
    operation_id = "v1.application.get", summary = "Get an application",
    params(AppPath),
    responses((status = 200, description = "The application", body = AppOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath(app_id): ApiPath<String>,
) -> ApiResult<Json<AppOut>> {
    Ok(Json(load_app(&state, &app_id).await?.into()))
}

/// `PUT /app/{app_id}`: replaces the app, or creates it (201) with the path as its uid.
#[utoipa::path(put, path = "/api/v1/app/{app_id}", tag = "Application",
    operation_id = "v1.application.update", summary = "Replace or create an application",
    params(AppPath), request_body = AppIn,
    responses(
        (status = 200, description = "Replaced", body = AppOut),
        (status = 201, description = "Created, with the path as its uid", body = AppOut),
    ))]
pub async fn upsert(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(body): ApiJson<AppIn>,
) -> ApiResult<(StatusCode, Json<AppOut>)> {
    check_in(&body)?;
    match state.store.get_app(&app_id).await {
        Ok(mut app) => {
            app.name = body.name;
            app.uid = body.uid.or(app.uid);
            app.rate_limit = body.rate_limit;
            app.metadata = body.metadata.unwrap_or_default();
            app.updated_at = Timestamp::now();
            save(&state, &cache, &app).await?;
            Ok((StatusCode::OK, Json(app.into())))
        }
        Err(StoreError::NotFound) => {
            public_uid(&app_id)?;
            let mut app = new_app(body);
            app.uid = app.uid.or(Some(app_id));
            state.store.create_app(&app).await.map_err(conflict)?;
            Ok((StatusCode::CREATED, Json(app.into())))
        }
        Err(e) => Err(e.into()),
    }
}

/// `PATCH /app/{app_id}`.
#[utoipa::path(patch, path = "/api/v1/app/{app_id}", tag = "Application",
    operation_id = "v1.application.patch", summary = "Change some of an application's fields",
    params(AppPath), request_body = AppPatch,
    responses((status = 200, description = "Changed", body = AppOut)))]
pub async fn patch(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(body): ApiJson<AppPatch>,
) -> ApiResult<Json<AppOut>> {
    let mut app = load_app(&state, &app_id).await?;
    if let Some(name) = body.name {
        check_name(&name)?;
        app.name = name;
    }
    if let Some(uid) = body.uid {
        check_uid(uid.as_deref())?;
        app.uid = uid;
    }
    if let Some(rate) = body.rate_limit {
        app.rate_limit = rate;
    }
    if let Some(metadata) = body.metadata {
        app.metadata = metadata;
    }
    app.updated_at = Timestamp::now();
    save(&state, &cache, &app).await?;
    Ok(Json(app.into()))
}

/// `DELETE /app/{app_id}`: 204; everything under the app goes with it.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}", tag = "Application",
    operation_id = "v1.application.delete", summary = "Delete an application and everything under it",
    params(AppPath),
    responses((status = 204, description = "Deleted")))]
pub async fn delete(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let endpoints = state.store.all_endpoints(&app.id).await?;
    state
        .store
        .delete_app(&app.id)
        .await
        .map_err(|e| ApiError::from_store("application", e))?;
    for ep in &endpoints {
        let change = EndpointChange::AppDeleted;
        state.engine.endpoint_changed(&app, ep, change).await;
    }
    cache.invalidate(&app.id);
    Ok(StatusCode::NO_CONTENT)
}

async fn save(state: &ApiState, cache: &FanOutCache, app: &Application) -> ApiResult<()> {
    state.store.update_app(app).await.map_err(conflict)?;
    cache.invalidate(&app.id);
    Ok(())
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict(key) => {
            ApiError::Conflict(format!("an application with this {key} already exists"))
        }
        StoreError::NotFound => ApiError::not_found("application"),
        other => other.into(),
    }
}
