//! Delivery attempts and per-endpoint delivery state of messages:
//! - `GET /app/{app_id}/attempt/endpoint/{endpoint_id}`, `GET /app/{app_id}/attempt/msg/{msg_id}`
//! - `GET /app/{app_id}/msg/{msg_id}/attempt/{attempt_id}`
//! - `GET /app/{app_id}/msg/{msg_id}/endpoint`: where the message went and how it fares
//! - `POST /app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend`

use super::load_message;
use crate::api::app::load_app;
use crate::api::endpoint::{load_endpoint, EndpointOut};
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{parse_time, split_list, ApiPath, ApiQuery};
use crate::api::http::pagination::{page_in_memory, ListResponse, PageParams};
use crate::api::http::paths::{AttemptPath, EndpointPath, MsgEndpointPath, MsgPath};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use hookd_core::ids::{AttemptId, EndpointId, MsgId};
use hookd_core::model::{Attempt, DeliveryStatus};
use hookd_core::Timestamp;
use hookd_store::{AttemptFilter, Page, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

fn status_text(s: DeliveryStatus) -> &'static str {
    match s {
        DeliveryStatus::Success => "success",
        DeliveryStatus::Pending => "pending",
        DeliveryStatus::Fail => "fail",
        DeliveryStatus::Sending => "sending",
    }
}

/// `MessageAttemptOut`. `status` and `triggerType` are Svix's integers.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = MessageAttemptOut)]
pub struct AttemptOut {
    id: AttemptId,
    msg_id: MsgId,
    endpoint_id: EndpointId,
    url: String,
    response: String,
    response_status_code: u16,
    response_duration_ms: u64,
    status: i64,
    status_text: &'static str,
    trigger_type: i64,
    timestamp: Timestamp,
}

impl From<Attempt> for AttemptOut {
    fn from(a: Attempt) -> Self {
        Self {
            id: a.id,
            msg_id: a.msg_id,
            endpoint_id: a.endpoint_id,
            url: a.url,
            response: a.response,
            response_status_code: a.response_status_code,
            response_duration_ms: a.response_duration_ms,
            status: a.status.as_i64(),
            status_text: status_text(a.status),
            trigger_type: a.trigger.as_i64(),
            timestamp: a.created_at,
        }
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct AttemptParams {
    /// Only attempts of this status: 0 success, 1 pending, 2 failed, 3 sending.
    status: Option<i64>,
    /// Only responses of this class: 0 (no response), 100, 200, 300, 400 or 500.
    status_code_class: Option<u16>,
    /// Only messages of these event types (comma-separated).
    event_types: Option<String>,
    /// Only messages on this channel.
    channel: Option<String>,
    /// Only attempts before this time (RFC 3339).
    before: Option<String>,
    /// Only attempts after this time (RFC 3339).
    after: Option<String>,
    /// Only attempts to this endpoint (id or uid; the by-message list).
    endpoint_id: Option<String>,
    /// Accepted for compatibility: attempts always carry their response body.
    #[allow(dead_code)]
    with_content: Option<bool>,
}

/// `{}`: the answer of a request that has nothing to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct EmptyResponse {}

/// A page of attempts (`ListResponse_MessageAttemptOut_`).
type AttemptList = ListResponse<AttemptOut>;
/// A page of a message's endpoints (`ListResponse_MessageEndpointOut_`).
type MessageEndpointList = ListResponse<MessageEndpointOut>;

impl AttemptParams {
    fn filter(&self) -> ApiResult<AttemptFilter> {
        let status = match self.status {
            None => None,
            Some(s) => Some(DeliveryStatus::from_i64(s).ok_or_else(|| {
                ApiError::query("status", "status must be 0 (success), 1, 2 or 3")
            })?),
        };
        let status_code_range = match self.status_code_class {
            None => None,
            Some(0) => Some((0, 99)),
            Some(c) if c % 100 == 0 && (100..=500).contains(&c) => Some((c, c + 99)),
            Some(_) => {
                return Err(ApiError::query(
                    "status_code_class",
                    "status_code_class must be 0, 100, 200, 300, 400 or 500",
                ))
            }
        };
        Ok(AttemptFilter {
            msg_id: None,
            endpoint_id: None,
            status,
            status_code_range,
            event_types: split_list(self.event_types.as_deref()),
            channel: self.channel.clone().filter(|c| !c.is_empty()),
            before: parse_time("before", self.before.as_deref())?,
            after: parse_time("after", self.after.as_deref())?,
        })
    }
}

async fn list_attempts(
    state: &ApiState,
    app: &hookd_core::ids::AppId,
    filter: AttemptFilter,
    page: PageParams,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let cursor = page.cursor(true)?;
    let page = state
        .store
        .list_attempts(app, &filter, &cursor.request)
        .await?;
    Ok(Json(cursor.respond(
        page,
        |a| a.id.to_string(),
        AttemptOut::from,
    )))
}

/// `GET /app/{app_id}/attempt/endpoint/{endpoint_id}`: newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/endpoint/{endpoint_id}", tag = "Message Attempt",
    operation_id = "v1.message-attempt.list-by-endpoint", summary = "List an endpoint's attempts",
    params(EndpointPath, PageParams, AttemptParams),
    responses((status = 200, description = "A page of attempts, newest first", body = AttemptList)))]
pub async fn list_by_endpoint(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<AttemptParams>,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let mut filter = params.filter()?;
    let app = load_app(&state, &app_id).await?;
    filter.endpoint_id = Some(load_endpoint(&state, &app.id, &ep_id).await?.id);
    list_attempts(&state, &app.id, filter, page).await
}

/// `GET /app/{app_id}/attempt/msg/{msg_id}`: newest first; `endpoint_id` narrows it.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/attempt/msg/{msg_id}", tag = "Message Attempt",
    operation_id = "v1.message-attempt.list-by-msg", summary = "List a message's attempts",
    params(MsgPath, PageParams, AttemptParams),
    responses((status = 200, description = "A page of attempts, newest first", body = AttemptList)))]
pub async fn list_by_msg(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<AttemptParams>,
) -> ApiResult<Json<ListResponse<AttemptOut>>> {
    let mut filter = params.filter()?;
    let app = load_app(&state, &app_id).await?;
    filter.msg_id = Some(load_message(&state, &app.id, &msg_id).await?.id);
    if let Some(ep) = params.endpoint_id.as_deref().filter(|e| !e.is_empty()) {
        filter.endpoint_id = Some(load_endpoint(&state, &app.id, ep).await?.id);
    }
    list_attempts(&state, &app.id, filter, page).await
}

/// `GET /app/{app_id}/msg/{msg_id}/attempt/{attempt_id}`.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}", tag = "Message Attempt",
    operation_id = "v1.message-attempt.get", summary = "Get an attempt",
    params(AttemptPath),
    responses((status = 200, description = "The attempt", body = AttemptOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id, attempt_id)): ApiPath<(String, String, String)>,
) -> ApiResult<Json<AttemptOut>> {
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    let id = AttemptId::parse(&attempt_id).ok_or_else(|| ApiError::not_found("attempt"))?;
    let attempt = state
        .store
        .get_attempt(&app.id, &msg.id, &id)
        .await
        .map_err(|e| ApiError::from_store("attempt", e))?;
    Ok(Json(attempt.into()))
}

/// `DELETE /app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content`: forgets the
/// response body recorded for the attempt (204).
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/attempt/{attempt_id}/content", tag = "Message Attempt",
    operation_id = "v1.message-attempt.expunge-content", summary = "Delete an attempt's response body",
    params(AttemptPath),
    responses((status = 204, description = "The response body is gone")))]
pub async fn expunge_content(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id, attempt_id)): ApiPath<(String, String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    let id = AttemptId::parse(&attempt_id).ok_or_else(|| ApiError::not_found("attempt"))?;
    state
        .store
        .expunge_attempt_content(&app.id, &msg.id, &id)
        .await
        .map_err(|e| ApiError::from_store("attempt", e))?;
    Ok(StatusCode::NO_CONTENT)
}

/// `MessageEndpointOut`: the endpoint plus the message's delivery state there.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageEndpointOut {
    #[serde(flatten)]
    endpoint: EndpointOut,
    status: i64,
    status_text: &'static str,
    next_attempt: Option<Timestamp>,
}

/// `GET /app/{app_id}/msg/{msg_id}/endpoint`: ordered by endpoint id.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint", tag = "Message Attempt",
    operation_id = "v1.message-attempt.list-attempted-destinations", summary = "List a message's endpoints and its delivery state at each",
    params(MsgPath, PageParams),
    responses((status = 200, description = "A page of endpoints, by id", body = MessageEndpointList)))]
pub async fn list_destinations(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id)): ApiPath<(String, String)>,
    ApiQuery(page): ApiQuery<PageParams>,
) -> ApiResult<Json<ListResponse<MessageEndpointOut>>> {
    let cursor = page.cursor(false)?;
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    let mut dests = state.store.list_destinations(&app.id, &msg.id).await?;
    dests.sort_by(|a, b| a.endpoint_id.cmp(&b.endpoint_id));
    // Only the page's endpoints are read (an application may have thousands).
    let dests = page_in_memory(dests, &cursor, |d| d.endpoint_id.to_string());
    let mut joined = Vec::with_capacity(dests.items.len());
    for d in dests.items {
        match state
            .store
            .get_endpoint(&app.id, d.endpoint_id.as_str())
            .await
        {
            Ok(ep) => joined.push((d, ep)),
            // Deleted since (its destinations go with it).
            Err(StoreError::NotFound) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let page = Page {
        items: joined,
        has_more: dests.has_more,
    };
    Ok(Json(cursor.respond(
        page,
        |(d, _)| d.endpoint_id.to_string(),
        |(d, ep)| {
            MessageEndpointOut {
                endpoint: ep.into(),
                status: d.status.as_i64(),
                status_text: status_text(d.status),
                next_attempt: d
                    .next_attempt_at
                    .filter(|_| d.status == DeliveryStatus::Pending),
            }
        },
    )))
}

/// `POST /app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend`: 202 `{}` once the
/// destination is pending again; delivered now if the engine has room, else by the poller.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/{msg_id}/endpoint/{endpoint_id}/resend", tag = "Message Attempt",
    operation_id = "v1.message-attempt.resend", summary = "Deliver a message to an endpoint again",
    params(MsgEndpointPath),
    responses((status = 202, description = "Queued", body = EmptyResponse)))]
pub async fn resend(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id, ep_id)): ApiPath<(String, String, String)>,
) -> ApiResult<(StatusCode, Json<EmptyResponse>)> {
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    if msg.payload.is_none() {
        return Err(ApiError::Conflict(
            "the message's payload was expunged; it cannot be resent".into(),
        ));
    }
    state
        .engine
        .resend(msg, &ep)
        .await
        .map_err(|e| ApiError::from_store("message or endpoint", e))?;
    Ok((StatusCode::ACCEPTED, Json(EmptyResponse {})))
}
