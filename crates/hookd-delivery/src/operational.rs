//! Operational webhooks: events about endpoints and deliveries, sent to the operator's URL.
//!
//! Events are made durable by routing them through the ordinary queue: the operator's URL
//! is the one endpoint of an internal application (set up by the server at start-up), and
//! each event becomes a message of that application, so it is signed, retried and logged
//! like any delivery. Emitting never blocks: events go through a bounded channel to one
//! task (`op_sender`) that looks up the ids' uids and publishes the messages off the
//! delivery path. If the channel is full (the store cannot keep up), the event is dropped
//! with a warning. This module holds the events and the emitting handle only, so the
//! parts that emit (attempts, the health writer) import no write path.
//!
//! Besides Svix's event types, a node reports its own parts stalling and recovering
//! ([`NodeEvent`], from the server's watchdog).
//!
//! Deliveries to the internal application never emit events or count towards auto-disable,
//! so a failing operator URL cannot feed itself.

use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::Timestamp;
use std::sync::atomic::{AtomicU64, Ordering};
use tokio::sync::mpsc;

/// Events waiting to be committed before new ones are dropped.
const QUEUE: usize = 10_000;

/// The internal application and endpoint that carry operational webhooks.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationalTarget {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
}

/// The operational event types (Svix's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OpEventKind {
    EndpointCreated,
    EndpointUpdated,
    EndpointDeleted,
    EndpointDisabled,
    AttemptFailing,
    AttemptExhausted,
    AttemptRecovered,
}

impl OpEventKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::EndpointCreated => "endpoint.created",
            Self::EndpointUpdated => "endpoint.updated",
            Self::EndpointDeleted => "endpoint.deleted",
            Self::EndpointDisabled => "endpoint.disabled",
            Self::AttemptFailing => "message.attempt.failing",
            Self::AttemptExhausted => "message.attempt.exhausted",
            Self::AttemptRecovered => "message.attempt.recovered",
        }
    }
}

/// The last attempt of a message, for the `message.attempt.*` events.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct LastAttempt {
    pub msg_id: MsgId,
    pub attempt_id: AttemptId,
    pub response_status_code: u16,
    pub at: Timestamp,
}

/// One operational event, with the ids it is about. Uids are looked up when it is sent
/// unless given (a deleted endpoint's uid can only be given).
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct OpEvent {
    pub kind: OpEventKind,
    pub app_id: AppId,
    pub app_uid: Option<String>,
    pub endpoint_id: EndpointId,
    pub endpoint_uid: Option<String>,
    /// For `endpoint.disabled`: when the endpoint started failing.
    pub fail_since: Option<Timestamp>,
    /// For `message.attempt.*`.
    pub last_attempt: Option<LastAttempt>,
}

impl OpEvent {
    /// An `endpoint.*` event.
    pub fn endpoint(
        kind: OpEventKind,
        app_id: AppId,
        app_uid: Option<String>,
        endpoint_id: EndpointId,
        endpoint_uid: Option<String>,
    ) -> Self {
        Self {
            kind,
            app_id,
            app_uid,
            endpoint_id,
            endpoint_uid,
            fail_since: None,
            last_attempt: None,
        }
    }
}

/// A part of this node stalled, or made progress again after a stall: hookd's own event
/// types (`hookd.node.stalled`, `hookd.node.recovered`), beyond Svix's.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeEvent {
    /// `true`: stalled; `false`: recovered.
    pub stalled: bool,
    /// The node (its lease owner name).
    pub node_id: String,
    /// The part: `poller`, `dispatcher`, `recorder`, `flow`, `writer`, `cleaner`.
    pub part: &'static str,
    /// How long it had owed work without progress when this was noticed.
    pub owed_for: std::time::Duration,
    pub at: Timestamp,
}

impl NodeEvent {
    pub fn event_type(&self) -> &'static str {
        if self.stalled {
            "hookd.node.stalled"
        } else {
            "hookd.node.recovered"
        }
    }
}

/// What the sending task is handed.
pub(crate) enum Event {
    Endpoint(OpEvent),
    Node(NodeEvent),
}

/// The emitting side, held by whoever emits (attempts, the health writer, the engine).
pub(crate) struct Operational {
    target: Option<OperationalTarget>,
    queue: mpsc::Sender<Event>,
    dropped: AtomicU64,
}

/// Events on their way to the sending task.
pub(crate) type Events = mpsc::Receiver<Event>;

impl Operational {
    /// The emitting handle, and the receiving end to give `op_sender::run` (only when a
    /// target is configured).
    pub fn new(target: Option<OperationalTarget>) -> (Self, Events) {
        let (queue, rx) = mpsc::channel(if target.is_some() { QUEUE } else { 1 });
        let ops = Self {
            target,
            queue,
            dropped: AtomicU64::new(0),
        };
        (ops, rx)
    }

    /// Where events go; `None` sends none.
    pub fn target(&self) -> Option<&OperationalTarget> {
        self.target.as_ref()
    }

    /// Whether deliveries of `app` are themselves operational webhooks.
    pub fn is_internal(&self, app: &AppId) -> bool {
        self.target.as_ref().is_some_and(|t| &t.app_id == app)
    }

    /// Queues an event; a no-op when no operator URL is configured.
    pub fn emit(&self, event: OpEvent) {
        if self.is_internal(&event.app_id) {
            return;
        }
        self.queue(Event::Endpoint(event));
    }

    /// Queues a node event; a no-op when no operator URL is configured.
    pub fn emit_node(&self, event: NodeEvent) {
        self.queue(Event::Node(event));
    }

    fn queue(&self, event: Event) {
        if self.target.is_none() {
            return;
        }
        if self.queue.try_send(event).is_err() {
            let n = self.dropped.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                tracing::warn!(
                    dropped = n + 1,
                    "operational webhook queue is full (or closed); dropping events"
                );
            }
        }
    }
}
