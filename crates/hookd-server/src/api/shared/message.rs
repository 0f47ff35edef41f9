//! A message as every entry point writes and answers it: `POST …/msg`, `send-example`
//! and the ingest receive route date a new payload's expiry with [`payload_expiry`] (90
//! days unless `POST …/msg` asks for another retention), and the message routes and
//! `send-example` answer with [`MessageOut`].

use hookd_core::ids::MsgId;
use hookd_core::model::Message;
use hookd_core::Timestamp;
use serde::{Serialize, Serializer};
use serde_json::value::RawValue;
use std::sync::Arc;
use utoipa::ToSchema;

const DEFAULT_RETENTION_DAYS: i64 = hookd_core::model::DEFAULT_PAYLOAD_RETENTION_DAYS;
const DAY_MS: i64 = 86_400_000;

/// `MessageOut`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct MessageOut {
    id: MsgId,
    event_id: Option<String>,
    event_type: String,
    /// The payload as sent (`{}` once expunged); a received body that is not JSON, as a
    /// string.
    #[schema(value_type = Value)]
    payload: RawPayload,
    channels: Option<Vec<String>>,
    tags: Option<Vec<String>>,
    timestamp: Timestamp,
}

/// A stored payload written into the response as-is (`{}` when expunged or not asked for).
#[derive(Debug)]
pub struct RawPayload(Option<Arc<str>>);

impl Serialize for RawPayload {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let text = self.0.as_deref().unwrap_or("{}");
        match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => raw.serialize(s),
            // A body received through an ingest source need not be JSON (a form, say).
            Err(_) => s.serialize_str(text),
        }
    }
}

impl MessageOut {
    pub fn new(msg: Message, with_content: bool) -> Self {
        Self {
            id: msg.id,
            event_id: msg.event_id,
            event_type: msg.event_type,
            payload: RawPayload(msg.payload.filter(|_| with_content)),
            channels: msg.channels,
            tags: msg.tags,
            timestamp: msg.created_at,
        }
    }
}

/// When a payload written at `now` with a retention of `days` (default 90) expires.
pub fn payload_expiry(now: Timestamp, days: Option<i64>) -> Option<Timestamp> {
    let days = days.unwrap_or(DEFAULT_RETENTION_DAYS);
    Some(now.plus_millis(days.saturating_mul(DAY_MS)))
}
