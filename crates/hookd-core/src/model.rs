//! The records hookd stores. Field names are Rust's; the API layer maps them to Svix's
//! camelCase JSON. Every field says why it exists.

use crate::ids::{AppId, AttemptId, EndpointId, MsgId, SourceId};
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

/// The uid of the application operational webhooks are sent through (hookd's own).
pub const OPERATIONAL_APP_UID: &str = "hookd-operational-webhooks";
/// The uids of ingest sources' applications (hookd's own) start with this.
pub const INGEST_APP_UID_PREFIX: &str = "hookd-ingest-";

/// The uid of the application holding an ingest source's endpoints.
pub fn ingest_app_uid(source: &SourceId) -> String {
    format!("{INGEST_APP_UID_PREFIX}{source}")
}

/// Whether `uid` names one of hookd's internal applications (the operational-webhooks
/// target, an ingest source's endpoint holder): reserved in the API, hidden from lists.
pub fn is_internal_app_uid(uid: &str) -> bool {
    uid == OPERATIONAL_APP_UID || uid.starts_with(INGEST_APP_UID_PREFIX)
}

impl Application {
    /// Whether this is one of hookd's internal applications ([`is_internal_app_uid`]).
    pub fn is_internal(&self) -> bool {
        self.uid.as_deref().is_some_and(is_internal_app_uid)
    }
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

/// Most rotated-out keys an endpoint keeps signing with.
pub const MAX_PREVIOUS_SECRETS: usize = 5;

/// A signing key replaced by a rotation, still used until `expires_at` so receivers can
/// switch keys without rejecting deliveries.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviousSecret {
    pub secret: EndpointSecret,
    pub expires_at: Timestamp,
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
    /// The throttle: at most this many deliveries per second, across every node (Svix's
    /// `throttleRate`, formerly `rateLimit`).
    pub rate_limit: Option<u32>,
    /// At most this many requests to the endpoint at once, across every node.
    pub max_concurrency: Option<u32>,
    /// First in, first out: message n+1 is sent only after message n succeeded or
    /// exhausted its retries.
    pub fifo: bool,
    /// Disabled endpoints get no new deliveries (set by the user, or by hookd on `410 Gone`
    /// or after failing for the auto-disable period).
    pub disabled: bool,
    /// Why it is disabled, when it is and the reason was recorded (endpoints disabled
    /// before hookd recorded reasons have none).
    pub disabled_reason: Option<DisabledReason>,
    /// Event types this endpoint subscribes to; `None` means every type.
    pub event_types: Option<Vec<String>>,
    /// Channels this endpoint listens on; `None` means messages regardless of channel.
    pub channels: Option<Vec<String>>,
    pub metadata: Metadata,
    /// The signing key; never logged (its `Debug` is redacted).
    pub secret: EndpointSecret,
    /// Keys replaced by a rotation that still sign until they expire, newest first (at most
    /// [`MAX_PREVIOUS_SECRETS`]).
    pub previous_secrets: Vec<PreviousSecret>,
    /// Extra headers sent with every delivery.
    pub headers: BTreeMap<String, String>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

impl Endpoint {
    /// A new enabled endpoint of `app` sending to `url` and signing with `secret`, with
    /// every other field at the API's default (no uid, no filters, no flow control, no
    /// custom headers, version 1), created at `now`.
    pub fn new(
        app: &AppId,
        url: impl Into<String>,
        secret: EndpointSecret,
        now: Timestamp,
    ) -> Self {
        Endpoint {
            id: EndpointId::generate_at(now),
            app_id: app.clone(),
            uid: None,
            url: url.into(),
            description: String::new(),
            version: 1,
            rate_limit: None,
            max_concurrency: None,
            fifo: false,
            disabled: false,
            disabled_reason: None,
            event_types: None,
            channels: None,
            metadata: Metadata::new(),
            secret,
            previous_secrets: Vec::new(),
            headers: BTreeMap::new(),
            created_at: now,
            updated_at: now,
        }
    }

    /// Disables (as a user asked) or enables the endpoint. A reason already recorded stays
    /// while it stays disabled.
    pub fn set_disabled_by_user(&mut self, disabled: bool) {
        if disabled != self.disabled {
            self.disabled_reason = disabled.then_some(DisabledReason::Manual);
        }
        self.disabled = disabled;
    }

    /// Whether deliveries to this endpoint are paced or ordered (throttle, concurrency cap
    /// or FIFO). Such deliveries are claimed only by the node that owns the endpoint.
    pub fn is_flow_controlled(&self) -> bool {
        self.rate_limit.is_some() || self.max_concurrency.is_some() || self.fifo
    }

    /// Makes `new` the signing key. The current key keeps signing until `grace_until`
    /// (dropped at once if that is not in the future); expired and surplus old keys go.
    pub fn rotate_secret(&mut self, new: EndpointSecret, now: Timestamp, grace_until: Timestamp) {
        let old = std::mem::replace(&mut self.secret, new);
        self.previous_secrets.retain(|p| p.expires_at > now);
        if grace_until > now {
            self.previous_secrets.insert(
                0,
                PreviousSecret {
                    secret: old,
                    expires_at: grace_until,
                },
            );
        }
        self.previous_secrets.truncate(MAX_PREVIOUS_SECRETS);
    }

    /// Every key that signs a delivery made at `now`: the current one first, then the
    /// unexpired previous ones.
    pub fn signing_secrets(&self, now: Timestamp) -> impl Iterator<Item = &EndpointSecret> {
        std::iter::once(&self.secret).chain(
            self.previous_secrets
                .iter()
                .filter(move |p| p.expires_at > now)
                .map(|p| &p.secret),
        )
    }

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

/// How long a payload is kept when its message does not say (Svix's default, 90 days).
pub const DEFAULT_PAYLOAD_RETENTION_DAYS: i64 = 90;

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
    /// When the payload is expunged by the retention cleaner (`payloadRetentionPeriod`);
    /// `None` keeps it until the message is deleted or its content expunged.
    pub payload_expires_at: Option<Timestamp>,
    /// The trace context kept with the message (its `traceparent`), parent of every
    /// delivery attempt and sent on each delivery: hookd's request span when tracing is
    /// on, else the producer's own `traceparent` as it came; `None` when neither.
    pub trace: Option<crate::trace::TraceContext>,
}

/// Delivery state of one message to one endpoint (also the attempt's status).
/// Why an endpoint is disabled.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DisabledReason {
    /// A user disabled it (the API, the portal).
    Manual,
    /// It answered `410 Gone`.
    Gone,
    /// Every attempt failed for the auto-disable period.
    Failing,
}

impl DisabledReason {
    pub fn as_str(self) -> &'static str {
        match self {
            DisabledReason::Manual => "manual",
            DisabledReason::Gone => "gone",
            DisabledReason::Failing => "failing",
        }
    }

    /// The reason a stored name stands for (`None` for a name this build does not know).
    pub fn parse(name: &str) -> Option<DisabledReason> {
        [Self::Manual, Self::Gone, Self::Failing]
            .into_iter()
            .find(|r| r.as_str() == name)
    }
}

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
        let mut ep = Endpoint::new(
            &AppId::generate(),
            "https://example.com",
            EndpointSecret::generate(),
            Timestamp::now(),
        );
        ep.event_types = types.map(to_vec);
        ep.channels = channels.map(to_vec);
        ep
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

    #[test]
    fn rotation_keeps_a_bounded_list_of_unexpired_keys() {
        let mut ep = endpoint(None, None);
        let t0 = Timestamp::from_millis(1_000_000);
        let first = ep.secret.clone();
        ep.rotate_secret(EndpointSecret::generate(), t0, t0.plus_millis(100));
        assert_eq!(ep.previous_secrets.len(), 1);
        assert_eq!(ep.previous_secrets[0].secret, first);
        assert_eq!(ep.signing_secrets(t0).count(), 2);
        assert_eq!(
            ep.signing_secrets(t0.plus_millis(100)).count(),
            1,
            "expired"
        );
        // No grace: the replaced key is dropped at once.
        ep.rotate_secret(EndpointSecret::generate(), t0, t0);
        assert_eq!(ep.previous_secrets.len(), 1);
        // Expired keys go at the next rotation, and the list stays bounded.
        for i in 0..10 {
            let now = t0.plus_millis(200 + i);
            ep.rotate_secret(EndpointSecret::generate(), now, now.plus_millis(10_000));
        }
        assert_eq!(ep.previous_secrets.len(), MAX_PREVIOUS_SECRETS);
        assert!(ep
            .previous_secrets
            .iter()
            .all(|p| p.expires_at > t0.plus_millis(200)));
    }
}

/// An ingest source: where one provider's webhooks are received and verified before they
/// are forwarded to the endpoints of the source's own internal application.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestSource {
    pub id: SourceId,
    /// The user's own unique key for the source; usable wherever the id is.
    pub uid: Option<String>,
    pub name: String,
    /// The provider kind as the API spells it (`github`, `stripe`, `generic-webhook`, ...).
    pub source_type: String,
    /// The provider's settings, secrets included; sealed at rest like endpoint secrets.
    pub config: serde_json::Value,
    pub metadata: Metadata,
    /// The unguessable path segment of the receive URL (`/ingest/{token}`).
    pub token: String,
    /// The token before the last rotation, still accepted until it expires.
    pub previous_token: Option<PreviousToken>,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

/// How an event received through an ingest source is forwarded (stored with its message as
/// JSON; see `Store::create_ingest_message`). The message's payload is the body received,
/// byte-exact: as text, or as standard base64 when the body was not text.
#[derive(Clone, Debug, PartialEq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct IngestForward {
    pub source_id: String,
    /// The provider's own id of the event, when it sent one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provider_event_id: Option<String>,
    /// The provider's `content-type`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub content_type: Option<String>,
    /// The provider's headers kept with the event (lower-case name, value), in order.
    #[serde(default)]
    pub headers: Vec<(String, String)>,
    /// The payload is the body in standard base64 (the body was not UTF-8 text).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub base64: bool,
}

/// A request an ingest source refused, kept for the operator (`GET .../rejection`).
/// Bounded: the body is cut to [`IngestRejection::MAX_BODY`] bytes and the headers to
/// the ones the verifier reads.
#[derive(Clone, Debug, PartialEq)]
pub struct IngestRejection {
    pub id: crate::ids::RejectionId,
    pub source_id: SourceId,
    /// The stable code (`bad_signature`, `stale_timestamp`, `body_too_large`, ...).
    pub code: String,
    /// A human-readable reason; never contains a secret.
    pub detail: String,
    /// The request's headers (name lower-case, value), secrets left out.
    pub headers: Vec<(String, String)>,
    /// The first [`IngestRejection::MAX_BODY`] bytes of the body.
    pub body: Vec<u8>,
    /// The body's full size in bytes.
    pub body_size: u64,
    pub received_at: Timestamp,
}

impl IngestRejection {
    /// Bytes of a rejected request's body that are kept.
    pub const MAX_BODY: usize = 4096;
}

/// A rotated-out receive token and when it stops being accepted.
#[derive(Clone, Debug, PartialEq)]
pub struct PreviousToken {
    pub token: String,
    pub expires_at: Timestamp,
}
