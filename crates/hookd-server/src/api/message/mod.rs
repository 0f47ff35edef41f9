//! Messages: `/api/v1/app/{app_id}/msg[/{msg_id}]`.
//!
//! Creating a message is the hot path: resolve the app, fan out to its matching endpoints
//! (from a short-lived cache), and publish through the delivery engine's write path
//! (`Engine::publish`: room reserved, the message and its destinations committed in one
//! store call, the admitted deliveries handed over), then answer 202. Nothing is
//! acknowledged before the commit.
//!
//! - this file: create, list and get messages, and expunge a message's content.
//! - `attempt`: the attempt log, where a message went (`/msg/{id}/endpoint`) and resend.

pub mod attempt;

use crate::api::app::{load_app, AppIn};
use crate::api::endpoint::body::check_channels;
use crate::api::http::cache::FanOutCache;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{parse_time, split_list, ApiJson, ApiPath, ApiQuery};
use crate::api::http::pagination::{ListResponse, PageParams};
use crate::api::http::paths::{AppPath, MsgPath};
use crate::api::http::trace::RequestTrace;
use crate::api::shared::fan_out::fan_out;
use crate::api::shared::message::{payload_expiry, MessageOut};
use crate::api::ApiState;
use axum::extract::State;
use axum::http::StatusCode;
use axum::{Extension, Json};
use hookd_core::ids::{AppId, MsgId};
use hookd_core::model::{Endpoint, Message};
use hookd_core::{validate, Timestamp};
use hookd_store::MessageFilter;
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::sync::Arc;
use utoipa::{IntoParams, ToSchema};

/// Most tags on a message.
const MAX_TAGS: usize = 5;
/// `payloadRetentionPeriod` bounds and default, in days (Svix's).
const RETENTION_DAYS: std::ops::RangeInclusive<i64> = 5..=90;
/// `payloadRetentionHours` bounds (up to 90 days).
const RETENTION_HOURS: std::ops::RangeInclusive<i64> = 1..=2160;
const HOUR_MS: i64 = 3_600_000;

/// Body of create (`MessageIn`). The payload is kept as the exact bytes sent.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageIn {
    #[schema(schema_with = crate::api::http::schemas::event_type_name)]
    event_type: String,
    /// Any JSON object.
    #[schema(value_type = Object)]
    payload: Box<RawValue>,
    #[schema(schema_with = crate::api::http::schemas::uid)]
    #[serde(default)]
    event_id: Option<String>,
    #[schema(schema_with = crate::api::http::schemas::channels)]
    #[serde(default)]
    channels: Option<Vec<String>>,
    #[serde(default)]
    tags: Option<Vec<String>>,
    /// Days the payload is kept (Svix: 5 to 90, default 90); the cleaner expunges it after.
    #[serde(default)]
    payload_retention_period: Option<i64>,
    /// Hours the payload is kept (newer Svix SDKs send it; 1 to 2160), instead of days.
    #[serde(default)]
    payload_retention_hours: Option<i64>,
    /// Creates the app when the path names none yet.
    #[serde(default)]
    application: Option<AppIn>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ContentParams {
    /// Include the payload (default `true`).
    #[serde(default = "yes")]
    with_content: bool,
}

fn yes() -> bool {
    true
}

/// The payload expiry a create asks for: hours if given, else days (default 90).
fn requested_expiry(now: Timestamp, body: &MessageIn) -> Option<Timestamp> {
    match body.payload_retention_hours {
        Some(hours) => Some(now.plus_millis(hours.saturating_mul(HOUR_MS))),
        None => payload_expiry(now, body.payload_retention_period),
    }
}

fn check_in(body: &MessageIn) -> ApiResult<()> {
    validate::event_type_name(&body.event_type).map_err(|m| ApiError::field("eventType", m))?;
    if !body.payload.get().starts_with('{') {
        return Err(ApiError::field("payload", "payload must be a JSON object"));
    }
    if let Some(id) = &body.event_id {
        // Messages are read by id or eventId: an eventId may not look like a message id.
        validate::resource_uid(id, MsgId::PREFIX).map_err(|m| ApiError::field("eventId", m))?;
    }
    if let Some(days) = body.payload_retention_period {
        if !RETENTION_DAYS.contains(&days) {
            return Err(ApiError::field(
                "payloadRetentionPeriod",
                "payloadRetentionPeriod must be between 5 and 90 days",
            ));
        }
    }
    if let Some(hours) = body.payload_retention_hours {
        if body.payload_retention_period.is_some() {
            return Err(ApiError::field(
                "payloadRetentionHours",
                "give payloadRetentionHours or payloadRetentionPeriod, not both",
            ));
        }
        if !RETENTION_HOURS.contains(&hours) {
            return Err(ApiError::field(
                "payloadRetentionHours",
                "payloadRetentionHours must be between 1 and 2160 hours",
            ));
        }
    }
    if let Some(tags) = &body.tags {
        if tags.len() > MAX_TAGS {
            return Err(ApiError::field(
                "tags",
                format!("tags allows at most {MAX_TAGS} entries"),
            ));
        }
        for t in tags {
            validate::channel(t)
                .map_err(|m| ApiError::field("tags", m.replace("channel", "tag")))?;
        }
    }
    Ok(())
}

/// `POST /app/{app_id}/msg`: 202 once the message and its deliveries are committed.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg", tag = "Message",
    operation_id = "v1.message.create", summary = "Send a message to the endpoints subscribed to its event type",
    params(AppPath, ContentParams,
        ("traceparent" = Option<String>, Header, description = "W3C trace context: kept with the message, so its deliveries join this trace (each carries a `traceparent`); an invalid one is ignored")),
    request_body = MessageIn,
    responses((status = 202, description = "Accepted: the message and its deliveries are stored", body = MessageOut)))]
pub async fn create(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(params): ApiQuery<ContentParams>,
    trace: RequestTrace,
    ApiJson(mut body): ApiJson<MessageIn>,
) -> ApiResult<(StatusCode, Json<MessageOut>)> {
    check_in(&body)?;
    let channels = check_channels(body.channels.take())?;
    let target = fan_out(&state, &cache, &app_id, body.application.take()).await?;
    let app = &target.app;
    let now = Timestamp::now();
    let payload_expires_at = requested_expiry(now, &body);
    let msg = Message {
        id: MsgId::generate_at(now),
        app_id: app.id.clone(),
        event_id: body.event_id,
        event_type: body.event_type,
        payload: Some(Arc::from(body.payload.get())),
        channels,
        tags: body.tags,
        created_at: now,
        payload_expires_at,
        trace: trace.0,
    };

    let targets: Vec<&Endpoint> = target
        .endpoints
        .iter()
        .filter(|ep| ep.matches(&msg.event_type, msg.channels.as_deref()))
        .collect();
    state
        .engine
        .publish(&msg, &targets)
        .await
        .map_err(ApiError::from_message_write)?;
    state.metrics.message_accepted();
    Ok((
        StatusCode::ACCEPTED,
        Json(MessageOut::new(msg, params.with_content)),
    ))
}

/// `MessagePrecheckIn`: the message a producer is about to send.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct PrecheckIn {
    event_type: String,
    #[serde(default)]
    channels: Option<Vec<String>>,
}

/// `MessagePrecheckOut`.
#[derive(Debug, Serialize, ToSchema)]
pub struct PrecheckOut {
    /// Whether an enabled endpoint would get such a message.
    active: bool,
}

/// `POST /app/{app_id}/msg/precheck/active`: whether a message of this event type (and
/// channels) would reach any endpoint, by the same rule and the same cached endpoints as
/// `POST …/msg`. Nothing is stored.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/msg/precheck/active", tag = "Message",
    operation_id = "v1.message.precheck", summary = "Whether a message would reach any endpoint",
    params(AppPath), request_body = PrecheckIn,
    responses((status = 200, description = "Whether an enabled endpoint listens", body = PrecheckOut)))]
pub async fn precheck(
    State(state): State<ApiState>,
    Extension(cache): Extension<FanOutCache>,
    ApiPath(app_id): ApiPath<String>,
    ApiJson(body): ApiJson<PrecheckIn>,
) -> ApiResult<Json<PrecheckOut>> {
    validate::event_type_name(&body.event_type).map_err(|m| ApiError::field("eventType", m))?;
    let channels = check_channels(body.channels)?;
    let target = fan_out(&state, &cache, &app_id, None).await?;
    let active = target
        .endpoints
        .iter()
        .any(|ep| ep.matches(&body.event_type, channels.as_deref()));
    Ok(Json(PrecheckOut { active }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// Only these event types (comma-separated).
    event_types: Option<String>,
    /// Only messages on this channel.
    channel: Option<String>,
    /// Only messages sent before this time (RFC 3339).
    before: Option<String>,
    /// Only messages sent after this time (RFC 3339).
    after: Option<String>,
    /// Include the payloads (default `true`).
    #[serde(default = "yes")]
    with_content: bool,
}

/// `GET /app/{app_id}/msg`: newest first.
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg", tag = "Message",
    operation_id = "v1.message.list", summary = "List an application's messages",
    params(AppPath, PageParams, ListParams),
    responses((status = 200, description = "A page of messages, newest first", body = MessageList)))]
pub async fn list(
    State(state): State<ApiState>,
    ApiPath(app_id): ApiPath<String>,
    ApiQuery(page): ApiQuery<PageParams>,
    ApiQuery(params): ApiQuery<ListParams>,
) -> ApiResult<Json<ListResponse<MessageOut>>> {
    let app = load_app(&state, &app_id).await?;
    let cursor = page.cursor(true)?;
    let filter = MessageFilter {
        event_types: split_list(params.event_types.as_deref()),
        channel: params.channel.filter(|c| !c.is_empty()),
        before: parse_time("before", params.before.as_deref())?,
        after: parse_time("after", params.after.as_deref())?,
        with_content: params.with_content,
    };
    let page = state
        .store
        .list_messages(&app.id, &filter, &cursor.request)
        .await?;
    let with_content = params.with_content;
    Ok(Json(cursor.respond(
        page,
        |m| m.id.to_string(),
        |m| MessageOut::new(m, with_content),
    )))
}

/// Loads a message of `app` by id or event id; 404 if missing.
/// A page of messages (`ListResponse_MessageOut_`).
type MessageList = ListResponse<MessageOut>;

pub async fn load_message(
    state: &ApiState,
    app: &AppId,
    id_or_event_id: &str,
) -> ApiResult<Message> {
    state
        .store
        .get_message(app, id_or_event_id)
        .await
        .map_err(|e| ApiError::from_store("message", e))
}

/// `GET /app/{app_id}/msg/{msg_id}` (id or eventId).
#[utoipa::path(get, path = "/api/v1/app/{app_id}/msg/{msg_id}", tag = "Message",
    operation_id = "v1.message.get", summary = "Get a message",
    params(MsgPath, ContentParams),
    responses((status = 200, description = "The message", body = MessageOut)))]
pub async fn get(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id)): ApiPath<(String, String)>,
    ApiQuery(params): ApiQuery<ContentParams>,
) -> ApiResult<Json<MessageOut>> {
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    Ok(Json(MessageOut::new(msg, params.with_content)))
}

/// `DELETE /app/{app_id}/msg/{msg_id}/content`: expunges the payload (204). The message
/// then reads back with `payload: {}`; deliveries still pending settle as failed without
/// a request, since there is nothing left to send.
#[utoipa::path(delete, path = "/api/v1/app/{app_id}/msg/{msg_id}/content", tag = "Message",
    operation_id = "v1.message.expunge-content", summary = "Delete a message's payload",
    params(MsgPath),
    responses((status = 204, description = "The payload is gone; the message and its attempts stay")))]
pub async fn expunge_content(
    State(state): State<ApiState>,
    ApiPath((app_id, msg_id)): ApiPath<(String, String)>,
) -> ApiResult<StatusCode> {
    let app = load_app(&state, &app_id).await?;
    let msg = load_message(&state, &app.id, &msg_id).await?;
    state
        .store
        .expunge_message_content(&app.id, &msg.id)
        .await
        .map_err(|e| ApiError::from_store("message", e))?;
    Ok(StatusCode::NO_CONTENT)
}
