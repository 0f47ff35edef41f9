//! Operational webhooks: events about endpoints and deliveries, sent to the operator's URL.
//!
//! Events are made durable by routing them through the ordinary queue: the operator's URL
//! is the one endpoint of an internal application (set up by the server at start-up), and
//! each event becomes a message of that application, so it is signed, retried and logged
//! like any delivery. Emitting never blocks: events go through a bounded channel to one
//! task that looks up the ids' uids and commits the messages off the delivery path. If the
//! channel is full (the store cannot keep up), the event is dropped with a warning.
//!
//! Deliveries to the internal application never emit events or count towards auto-disable,
//! so a failing operator URL cannot feed itself.

use crate::signal::PollerSignal;
use hookd_core::ids::{AppId, AttemptId, EndpointId, MsgId};
use hookd_core::model::{
    DeliveryStatus, Message, MessageDestination, TriggerType, DEFAULT_PAYLOAD_RETENTION_DAYS,
};
use hookd_core::Timestamp;
use hookd_store::Store;
use serde_json::{json, Map, Value};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// Events waiting to be committed before new ones are dropped.
const QUEUE: usize = 10_000;
/// Most events taken from the channel per round.
const BATCH: usize = 64;

/// The internal application and endpoint that carry operational webhooks.
#[derive(Clone, Debug, PartialEq)]
pub struct OperationalTarget {
    pub app_id: AppId,
    pub endpoint_id: EndpointId,
}

/// The operational event types (Svix's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OpEventKind {
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
pub struct LastAttempt {
    pub msg_id: MsgId,
    pub attempt_id: AttemptId,
    pub response_status_code: u16,
    pub at: Timestamp,
}

/// One operational event, with the ids it is about. Uids are looked up when it is sent
/// unless given (a deleted endpoint's uid can only be given).
#[derive(Clone, Debug, PartialEq)]
pub struct OpEvent {
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

/// The emitting side, held by whoever emits (attempts, the health writer, the engine).
pub(crate) struct Operational {
    target: Option<OperationalTarget>,
    queue: mpsc::Sender<OpEvent>,
    dropped: AtomicU64,
}

/// Events on their way to the sending task.
pub(crate) type Events = mpsc::Receiver<OpEvent>;

impl Operational {
    /// The emitting handle, and the receiving end to give [`run`] (only when a target is
    /// configured).
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
        if self.target.is_none() || self.is_internal(&event.app_id) {
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

/// What the sending task works with.
pub(crate) struct Sender {
    pub store: Arc<dyn Store>,
    pub target: OperationalTarget,
    /// Told when events were committed.
    pub poller: Arc<PollerSignal>,
    pub shutdown: CancellationToken,
}

/// Commits events until shutdown, then whatever is still queued.
pub(crate) async fn run(sender: Sender, mut rx: Events) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => if n == 0 { return },
            _ = sender.shutdown.cancelled() => {
                while let Ok(e) = rx.try_recv() {
                    batch.push(e);
                }
                commit(&sender, batch.drain(..)).await;
                return;
            }
        }
        commit(&sender, batch.drain(..)).await;
    }
}

async fn commit(sender: &Sender, events: impl Iterator<Item = OpEvent>) {
    let target = &sender.target;
    let mut any = false;
    for event in events {
        let payload = payload(&*sender.store, &event).await;
        let now = Timestamp::now();
        let msg = Message {
            id: MsgId::generate_at(now),
            app_id: target.app_id.clone(),
            event_id: None,
            event_type: event.kind.as_str().to_owned(),
            payload: Some(Arc::from(payload.to_string())),
            channels: None,
            tags: None,
            created_at: now,
            payload_expires_at: Some(
                now.plus_millis(DEFAULT_PAYLOAD_RETENTION_DAYS.saturating_mul(86_400_000)),
            ),
        };
        let dest = MessageDestination {
            msg_id: msg.id.clone(),
            endpoint_id: target.endpoint_id.clone(),
            app_id: target.app_id.clone(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(now),
            last_attempt_at: None,
            trigger: TriggerType::Scheduled,
            lease_owner: None,
        };
        match sender.store.create_message(&msg, &[dest]).await {
            Ok(()) => any = true,
            Err(e) => tracing::warn!(
                error = %e,
                event_type = event.kind.as_str(),
                "storing an operational webhook failed; it is dropped"
            ),
        }
    }
    if any {
        sender.poller.wake.notify_one();
    }
}

/// The event as Svix shapes it: `{"type": ..., "data": {...}}`.
async fn payload(store: &dyn Store, e: &OpEvent) -> Value {
    let app_uid = match &e.app_uid {
        Some(uid) => Some(uid.clone()),
        None => store
            .get_app(e.app_id.as_str())
            .await
            .ok()
            .and_then(|a| a.uid),
    };
    let mut data = Map::new();
    data.insert("appId".into(), json!(e.app_id));
    data.insert("appUid".into(), json!(app_uid));
    data.insert("endpointId".into(), json!(e.endpoint_id));
    match &e.last_attempt {
        None => {
            let endpoint_uid = match &e.endpoint_uid {
                Some(uid) => Some(uid.clone()),
                None => store
                    .get_endpoint(&e.app_id, e.endpoint_id.as_str())
                    .await
                    .ok()
                    .and_then(|ep| ep.uid),
            };
            data.insert("endpointUid".into(), json!(endpoint_uid));
        }
        Some(last) => {
            let event_id = store
                .get_message(&e.app_id, last.msg_id.as_str())
                .await
                .ok()
                .and_then(|m| m.event_id);
            data.insert("msgId".into(), json!(last.msg_id));
            data.insert("msgEventId".into(), json!(event_id));
            data.insert(
                "lastAttempt".into(),
                json!({
                    "id": last.attempt_id,
                    "responseStatusCode": last.response_status_code,
                    "timestamp": last.at,
                }),
            );
        }
    }
    if let Some(since) = e.fail_since {
        data.insert("failSince".into(), json!(since));
    }
    json!({ "type": e.kind.as_str(), "data": data })
}
