//! The path parameters of the API's routes, for the OpenAPI document: one type per
//! route shape, with Svix's parameter names. Handlers read them as [`super::extract::ApiPath`]
//! tuples; these types only describe them (every field is read by the document, never by
//! code, hence `dead_code`).
#![allow(dead_code)]

use utoipa::IntoParams;

/// `{app_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AppPath {
    /// The application's id or uid.
    app_id: String,
}

/// `{app_id}/endpoint/{endpoint_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EndpointPath {
    /// The application's id or uid.
    app_id: String,
    /// The endpoint's id or uid.
    endpoint_id: String,
}

/// `{app_id}/msg/{msg_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MsgPath {
    /// The application's id or uid.
    app_id: String,
    /// The message's id or `eventId`.
    msg_id: String,
}

/// `{app_id}/msg/{msg_id}/endpoint/{endpoint_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct MsgEndpointPath {
    /// The application's id or uid.
    app_id: String,
    /// The message's id or `eventId`.
    msg_id: String,
    /// The endpoint's id or uid.
    endpoint_id: String,
}

/// `{app_id}/msg/{msg_id}/attempt/{attempt_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct AttemptPath {
    /// The application's id or uid.
    app_id: String,
    /// The message's id or `eventId`.
    msg_id: String,
    /// The attempt's id.
    attempt_id: String,
}

/// `{event_type_name}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct EventTypePath {
    /// The event type's name.
    event_type_name: String,
}

/// `{task_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct TaskPath {
    /// The background task's id.
    task_id: String,
}

/// `{source_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SourcePath {
    /// The ingest source's id or uid.
    source_id: String,
}

/// `{source_id}/endpoint/{endpoint_id}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct SourceEndpointPath {
    /// The ingest source's id or uid.
    source_id: String,
    /// The endpoint's id or uid.
    endpoint_id: String,
}

/// `/ingest/{token}`.
#[derive(IntoParams)]
#[into_params(parameter_in = Path)]
pub struct ReceivePath {
    /// The source's receive token (a secret: whoever has it can send to the source).
    token: String,
}
