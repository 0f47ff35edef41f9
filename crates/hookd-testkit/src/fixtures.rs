//! Builders for hookd-core records. Every record is complete and valid, at a fixed point in
//! time ([`t`]), so tests never depend on the clock; a test changes the fields it cares
//! about with struct update syntax (`Endpoint { fifo: true, ..endpoint(&app.id, None) }`).

use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::model::{
    Application, Attempt, DeliveryStatus, Endpoint, EventType, Message, MessageDestination,
    Metadata, PreviousSecret, TriggerType,
};
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// The URL every built endpoint and attempt names.
pub const ENDPOINT_URL: &str = "https://receiver.example.com/hook";

/// A fixed point in time plus `ms`.
pub fn t(ms: i64) -> Timestamp {
    Timestamp::from_millis(1_700_000_000_000 + ms)
}

pub fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| s.to_string()).collect()
}

/// An application created at `at`, with a rate limit and one metadata entry.
pub fn app_at(at: Timestamp, uid: Option<&str>) -> Application {
    let mut metadata = Metadata::new();
    metadata.insert("team".into(), "billing".into());
    Application {
        id: AppId::generate_at(at),
        uid: uid.map(str::to_owned),
        name: format!("app {}", uid.unwrap_or("without uid")),
        rate_limit: Some(100),
        metadata,
        created_at: at,
        updated_at: at,
    }
}

pub fn app(uid: Option<&str>) -> Application {
    app_at(t(0), uid)
}

pub fn event_type(name: &str) -> EventType {
    EventType {
        name: name.to_owned(),
        description: format!("{name} happened"),
        archived: false,
        deprecated: false,
        schemas: Some(serde_json::json!({"1": {"type": "object"}})),
        feature_flag: None,
        created_at: t(0),
        updated_at: t(0),
    }
}

/// An endpoint of `app` created at `at`: enabled, subscribed to `invoice.paid`, no flow
/// control, a custom header, a fresh secret and one previous secret valid for a day.
pub fn endpoint_at(app: &AppId, at: Timestamp, uid: Option<&str>) -> Endpoint {
    let mut headers = BTreeMap::new();
    headers.insert("x-team".into(), "billing".into());
    Endpoint {
        id: EndpointId::generate_at(at),
        app_id: app.clone(),
        uid: uid.map(str::to_owned),
        url: ENDPOINT_URL.into(),
        description: "main receiver".into(),
        version: 1,
        rate_limit: None,
        max_concurrency: None,
        fifo: false,
        disabled: false,
        disabled_reason: None,
        event_types: Some(strings(&["invoice.paid"])),
        channels: None,
        metadata: Metadata::new(),
        secret: EndpointSecret::generate(),
        previous_secrets: vec![PreviousSecret {
            secret: EndpointSecret::generate(),
            expires_at: at.plus_millis(86_400_000),
        }],
        headers,
        created_at: at,
        updated_at: at,
    }
}

pub fn endpoint(app: &AppId, uid: Option<&str>) -> Endpoint {
    endpoint_at(app, t(0), uid)
}

/// A message of `app` created at `at`, its payload with irregular spacing and non-ASCII
/// text (so a re-serialized payload would differ).
pub fn message_at(app: &AppId, event_type: &str, at: Timestamp) -> Message {
    Message {
        id: MsgId::generate_at(at),
        app_id: app.clone(),
        event_id: None,
        event_type: event_type.to_owned(),
        payload: Some(Arc::from(r#"{"amount": 10,  "note":"é ✓"}"#)),
        channels: None,
        tags: None,
        created_at: at,
        payload_expires_at: None,
        trace: None,
    }
}

pub fn message(app: &AppId, event_type: &str) -> Message {
    message_at(app, event_type, t(0))
}

/// A pending, never-attempted destination of `msg` to `ep`, due at `due`.
pub fn dest(msg: &Message, ep: &EndpointId, due: Timestamp) -> MessageDestination {
    MessageDestination {
        msg_id: msg.id.clone(),
        endpoint_id: ep.clone(),
        app_id: msg.app_id.clone(),
        status: DeliveryStatus::Pending,
        attempt_count: 0,
        next_attempt_at: Some(due),
        last_attempt_at: None,
        trigger: TriggerType::Scheduled,
        lease_owner: None,
    }
}

/// An attempt at `d` made at `at` and answered `code`.
pub fn attempt(
    d: &MessageDestination,
    status: DeliveryStatus,
    code: u16,
    at: Timestamp,
) -> Attempt {
    Attempt {
        id: AttemptId::generate_at(at),
        msg_id: d.msg_id.clone(),
        endpoint_id: d.endpoint_id.clone(),
        app_id: d.app_id.clone(),
        url: ENDPOINT_URL.into(),
        status,
        response_status_code: code,
        response: format!("answered {code}"),
        response_duration_ms: 12,
        trigger: TriggerType::Scheduled,
        created_at: at,
    }
}
