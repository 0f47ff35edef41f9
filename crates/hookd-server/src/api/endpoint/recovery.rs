//! Endpoint recovery and background tasks:
//! - `POST /app/{app_id}/endpoint/{endpoint_id}/recover` (`RecoverIn` `{since, until?}`):
//!   re-sends every message of the endpoint whose delivery failed, created in
//!   `[since, until)`, as background work; answers 202 `RecoverOut` at once.
//! - `GET /background-task/{task_id}` and `GET /background-task`: a task's status
//!   (`running`, then `finished`) and how many deliveries it requeued so far.
//!
//! The task is a store row run by one node's recovery worker (see `hookd-delivery`).

use super::load_endpoint;
use crate::api::app::load_app;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::{EndpointPath, TaskPath};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookd_core::ids::{AppId, EndpointId, TaskId};
use hookd_core::Timestamp;
use hookd_store::RecoveryTask;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

/// The one kind of background task hookd runs.
const TASK_KIND: &str = "endpoint.recover";

#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecoverIn {
    since: Timestamp,
    #[serde(default)]
    until: Option<Timestamp>,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct RecoverOut {
    id: TaskId,
    status: &'static str,
    task: &'static str,
    updated_at: Timestamp,
}

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BackgroundTaskData)]
pub struct TaskData {
    app_id: AppId,
    endpoint_id: EndpointId,
    since: Timestamp,
    until: Option<Timestamp>,
    /// Failed deliveries re-sent (requeued) so far (Svix's name).
    messages_sent: u64,
}

/// `BackgroundTaskOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = BackgroundTaskOut)]
pub struct TaskOut {
    id: TaskId,
    status: &'static str,
    task: &'static str,
    data: TaskData,
    updated_at: Timestamp,
}

impl From<RecoveryTask> for TaskOut {
    fn from(t: RecoveryTask) -> Self {
        Self {
            id: t.id,
            status: t.status.as_str(),
            task: TASK_KIND,
            data: TaskData {
                app_id: t.app_id,
                endpoint_id: t.endpoint_id,
                since: t.since,
                until: t.until,
                messages_sent: t.recovered,
            },
            updated_at: t.updated_at,
        }
    }
}

/// `POST /app/{app_id}/endpoint/{endpoint_id}/recover`: 202.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/recover", tag = "Endpoint",
    operation_id = "v1.endpoint.recover", summary = "Re-send an endpoint's failed deliveries since a time",
    params(EndpointPath), request_body = RecoverIn,
    responses((status = 202, description = "Started; follow it at `/background-task/{id}`", body = RecoverOut)))]
pub async fn recover(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<RecoverIn>,
) -> ApiResult<(StatusCode, Json<RecoverOut>)> {
    let now = Timestamp::now();
    if body.since > now {
        return Err(ApiError::field("since", "since must not be in the future"));
    }
    if body.until.is_some_and(|u| u <= body.since) {
        return Err(ApiError::field("until", "until must be after since"));
    }
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    if ep.disabled {
        // Its deliveries would only be settled as failed again, without a request.
        return Err(ApiError::Conflict(
            "the endpoint is disabled; enable it before recovering its messages".into(),
        ));
    }
    let task = RecoveryTask::new(app.id, ep.id, body.since, body.until, now);
    state.engine.start_recovery(&task).await?;
    Ok((
        StatusCode::ACCEPTED,
        Json(RecoverOut {
            id: task.id,
            status: task.status.as_str(),
            task: TASK_KIND,
            updated_at: task.updated_at,
        }),
    ))
}

/// `GET /background-task/{task_id}`.
#[utoipa::path(get, path = "/api/v1/background-task/{task_id}", tag = "Background Task",
    operation_id = "v1.background-task.get", summary = "Get a background task",
    params(TaskPath),
    responses((status = 200, description = "The task", body = TaskOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath(task_id): ApiPath<String>,
) -> ApiResult<Json<TaskOut>> {
    let task = state
        .store
        .get_recovery(&task_id)
        .await
        .map_err(|e| ApiError::from_store("background task", e))?;
    Ok(Json(task.into()))
}

/// The filters of `GET /background-task`.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TaskFilter {
    /// `running`, `finished` or `failed`.
    status: Option<String>,
    /// `endpoint.recover`.
    task: Option<String>,
}

/// A page of background tasks (`ListResponse_BackgroundTaskOut_`).
type TaskList = ListResponse<TaskOut>;

/// `GET /background-task`: newest first unless `order=ascending`. `status` and `task`
/// filter the page's items (a filtered page may hold fewer than `limit`).
#[utoipa::path(get, path = "/api/v1/background-task", tag = "Background Task",
    operation_id = "v1.background-task.list", summary = "List background tasks",
    params(PageParams, TaskFilter),
    responses((status = 200, description = "A page of tasks, newest first unless `order=ascending`", body = TaskList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiQuery(params): ApiQuery<PageParams>,
    ApiQuery(filter): ApiQuery<TaskFilter>,
) -> ApiResult<Json<ListResponse<TaskOut>>> {
    if let Some(status) = &filter.status {
        if !["running", "finished", "failed"].contains(&status.as_str()) {
            return Err(ApiError::query(
                "status",
                "status must be running, finished or failed",
            ));
        }
    }
    if filter.task.as_deref().is_some_and(|t| t != TASK_KIND) {
        return Err(ApiError::query("task", format!("task must be {TASK_KIND}")));
    }
    let cursor = params.cursor(true)?;
    let mut page = state.store.list_recoveries(&cursor.request).await?;
    if let Some(status) = &filter.status {
        page.items.retain(|t| t.status.as_str() == status);
    }
    Ok(Json(cursor.respond(
        page,
        |t| t.id.to_string(),
        TaskOut::from,
    )))
}
