//! The records hookd stores. Field names are Rust's; the API layer maps them to Svix's
//! camelCase JSON. Every field says why it exists.

use crate::ids::{AppId, AttemptId, EndpointId, MsgId};
use crate::signing::EndpointSecret;
use crate::Timestamp;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Free-form string labels a user attaches to a resource.
pub type Metadata = BTreeMap<String, String>;

/// A tenant: the producer's customer, owning endpoints and messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Application {
    pub id: AppId,
    /// The user's own unique key for the app; usable wherever the id is.
    pub uid: Option<String>,
    pub name: String,
    /// Messages per second the user asked for (stored; enforcement comes with throttling).
    pub rate_limit: Option<u32>,
    pub metadata: Metadata,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A kind of event endpoints can subscribe to, addressed by its unique name.
#[derive(Clone, Debug, PartialEq)]
pub struct EventType {
    pub name: String,
    pub description: String,
    /// Archived types stay valid for messages but are hidden from lists unless asked for.
    pub archived: bool,
    pub deprecated: bool,
    /// JSON schemas by version, kept verbatim for documentation.
    pub schemas: Option<serde_json::Value>,
    pub feature_flag: Option<String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// A URL of an application that receives its messages.
#[derive(Clone, Debug, PartialEq)]
pub struct Endpoint {
    pub id: EndpointId,
    pub app_id: AppId,
    pub uid: Option<String>,
    pub url: String,
    pub description: String,
    pub version: i32,
    pub rate_limit: Option<u32>,
    /// Disabled endpoints get no new deliveries (set by the user, or by hookd on `410 Gone`).
    pub disabled: bool,
    /// Event types this endpoint subscribes to; `None` means every type.
    pub event_types: Option<Vec<String>>,
    /// Channels this endpoint listens on; `None` means messages regardless of channel.
    pub channels: Option<Vec<String>>,
    pub metadata: Metadata,
    /// The signing key; never logged (its `Debug` is redacted).
    pub secret: EndpointSecret,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Endpoint {
    /// Whether a message with this event type and these channels goes to this endpoint.
    pub fn matches(&self, event_type: &str, msg_channels: Option<&[String]>) -> bool {
        if self.disabled {
            return false;
        }
        if let Some(types) = &self.event_types {
            if !types.iter().any(|t| t == event_type) {
                return false;
            }
        }
        match &self.channels {
            None => true,
            Some(wanted) => {
                msg_channels.is_some_and(|have| have.iter().any(|c| wanted.iter().any(|w| w == c)))
            }
        }
    }
}

/// An event sent to an application, fanned out to its matching endpoints.
#[derive(Clone, Debug, PartialEq)]
pub struct Message {
    pub id: MsgId,
    pub app_id: AppId,
    /// The producer's idempotency key for the event, unique per application.
    pub event_id: Option<String>,
    pub event_type: String,
    /// The JSON payload exactly as delivered (the request's bytes are never re-serialised
    /// after acceptance). `None` once expunged.
    pub payload: Option<Arc<str>>,
    pub channels: Option<Vec<String>>,
    pub tags: Option<Vec<String>>,
    pub created_at: Timestamp,
}

/// Delivery state of one message to one endpoint (also the attempt's status).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    Success = 0,
    Pending = 1,
    Fail = 2,
    Sending = 3,
}

impl DeliveryStatus {
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Success,
            1 => Self::Pending,
            2 => Self::Fail,
            3 => Self::Sending,
            _ => return None,
        })
    }
}

/// Why an attempt was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TriggerType {
    /// By the delivery schedule (first attempt and retries).
    Scheduled = 0,
    /// By a user's resend.
    Manual = 1,
}

impl TriggerType {
    pub fn as_i64(self) -> i64 {
        self as i64
    }

    pub fn from_i64(v: i64) -> Option<Self> {
        Some(match v {
            0 => Self::Scheduled,
            1 => Self::Manual,
            _ => return None,
        })
    }
}

/// The delivery of one message to one endpoint: the unit of work of the queue.
///
/// A destination is *due* when `status` is `Pending` and `next_attempt_at <= now`.
/// Claiming it moves `next_attempt_at` to the lease expiry, so a node that dies holding it
/// only delays it until then.
#[derive(Clone, Debug, PartialEq)]
pub struct MessageDestination {
    pub msg_id: MsgId,
    pub endpoint_id: EndpointId,
    pub app_id: AppId,
    pub status: DeliveryStatus,
    /// Attempts made so far by the schedule (manual resends do not count).
    pub attempt_count: u32,
    /// When the next attempt is due, or the lease expiry while claimed; `None` when final.
    pub next_attempt_at: Option<Timestamp>,
    pub last_attempt_at: Option<Timestamp>,
    pub trigger: TriggerType,
    /// The node holding the lease while claimed; `None` when not claimed.
    pub lease_owner: Option<String>,
}

/// A record of one HTTP request to an endpoint.
#[derive(Clone, Debug, PartialEq)]
pub struct Attempt {
    pub id: AttemptId,
    pub msg_id: MsgId,
    pub endpoint_id: EndpointId,
    pub app_id: AppId,
    /// The URL as it was when the attempt was made.
    pub url: String,
    pub status: DeliveryStatus,
    /// HTTP status, or 0 when no response arrived.
    pub response_status_code: u16,
    /// The first 16 KiB of the response body (lossy UTF-8), or the transport error.
    pub response: String,
    pub response_duration_ms: u64,
    pub trigger: TriggerType,
    pub created_at: Timestamp,
}

/// Attempts keep at most this much of a response body.
pub const MAX_RESPONSE_BODY: usize = 16 * 1024;

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(types: Option<&[&str]>, channels: Option<&[&str]>) -> Endpoint {
        let to_vec = |v: &[&str]| v.iter().map(|s| s.to_string()).collect();
        Endpoint {
            id: EndpointId::generate(),
            app_id: AppId::generate(),
            uid: None,
            url: "https://example.com".into(),
            description: String::new(),
            version: 1,
            rate_limit: None,
            disabled: false,
            event_types: types.map(to_vec),
            channels: channels.map(to_vec),
            metadata: Metadata::new(),
            secret: EndpointSecret::generate(),
            headers: BTreeMap::new(),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        }
    }

    #[test]
    fn filters_by_event_type_and_channel() {
        let chans = vec!["eu".to_string()];
        assert!(endpoint(None, None).matches("a", None));
        assert!(endpoint(Some(&["a"]), None).matches("a", Some(&chans)));
        assert!(!endpoint(Some(&["b"]), None).matches("a", None));
        assert!(endpoint(None, Some(&["eu", "us"])).matches("a", Some(&chans)));
        assert!(!endpoint(None, Some(&["us"])).matches("a", Some(&chans)));
        assert!(!endpoint(None, Some(&["us"])).matches("a", None));
        let mut disabled = endpoint(None, None);
        disabled.disabled = true;
        assert!(!disabled.matches("a", None));
    }
}
