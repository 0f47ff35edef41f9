//! `POST /api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example`: sends one message of
//! the given event type (which must exist: 422 naming `eventType` otherwise, as for
//! `filterTypes`) to this endpoint only, whatever its filters, so an integrator can test a
//! receiver. The payload is the first example in the event type's schema
//! (`schemas["1"].examples[0]` or `.example`) when there is one, else
//! `{"example": true, "eventType": "<type>"}`. Answers 200 with the message, once
//! committed.

use super::body::require_event_type;
use super::load_endpoint;
use crate::api::app::load_app;
use crate::api::http::error::{ApiError, ApiResult};
use crate::api::http::extract::{ApiJson, ApiPath};
use crate::api::http::paths::EndpointPath;
use crate::api::shared::message::{payload_expiry, MessageOut};
use crate::api::ApiState;
use axum::extract::State;
use axum::Json;
use hookd_core::ids::MsgId;
use hookd_core::model::Message;
use hookd_core::Timestamp;
use serde::Deserialize;
use serde_json::{json, Value};
use std::sync::Arc;
use utoipa::ToSchema;

#[derive(Debug, Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(as = EventExampleIn)]
pub struct ExampleIn {
    #[schema(schema_with = crate::api::http::schemas::event_type_name)]
    event_type: String,
}

/// `POST /app/{app_id}/endpoint/{endpoint_id}/send-example`.
#[utoipa::path(post, path = "/api/v1/app/{app_id}/endpoint/{endpoint_id}/send-example", tag = "Endpoint",
    operation_id = "v1.endpoint.send-example", summary = "Send an event type's example to one endpoint",
    params(EndpointPath), request_body = ExampleIn,
    responses((status = 200, description = "The message sent", body = MessageOut)))]
pub async fn send_example(
    State(state): State<ApiState>,
    ApiPath((app_id, ep_id)): ApiPath<(String, String)>,
    ApiJson(body): ApiJson<ExampleIn>,
) -> ApiResult<Json<MessageOut>> {
    let app = load_app(&state, &app_id).await?;
    let ep = load_endpoint(&state, &app.id, &ep_id).await?;
    // An example of a type that does not exist is refused as a subscription to one is.
    let event_type = require_event_type(&state, "eventType", &body.event_type).await?;
    let schema_example = event_type.schemas.as_ref().and_then(example_of);
    let payload =
        schema_example.unwrap_or_else(|| json!({"example": true, "eventType": body.event_type}));
    let now = Timestamp::now();
    let msg = Message {
        id: MsgId::generate_at(now),
        app_id: app.id.clone(),
        event_id: None,
        event_type: body.event_type,
        payload: Some(Arc::from(payload.to_string())),
        channels: None,
        tags: None,
        created_at: now,
        payload_expires_at: payload_expiry(now, None),
        trace: None,
    };
    state
        .engine
        .publish(&msg, &[&ep])
        .await
        .map_err(ApiError::from_message_write)?;
    Ok(Json(MessageOut::new(msg, true)))
}

/// The first example object of an event type's version-1 schema, if any.
fn example_of(schemas: &Value) -> Option<Value> {
    let v1 = schemas.get("1")?;
    let example = v1
        .get("examples")
        .and_then(|e| e.get(0))
        .or_else(|| v1.get("example"))?;
    example.is_object().then(|| example.clone())
}

#[cfg(test)]
mod tests {
    use super::example_of;
    use serde_json::json;

    #[test]
    fn examples_come_from_the_v1_schema_when_they_are_objects() {
        let s = json!({"1": {"type": "object", "examples": [{"id": 1}, {"id": 2}]}});
        assert_eq!(example_of(&s), Some(json!({"id": 1})));
        assert_eq!(
            example_of(&json!({"1": {"example": {"a": true}}})),
            Some(json!({"a": true}))
        );
        assert_eq!(example_of(&json!({"1": {"examples": [3]}})), None);
        assert_eq!(example_of(&json!({"2": {"example": {}}})), None);
    }
}
