//! The operational-webhook sender: the task that turns queued events (`operational`)
//! into messages of the internal application, through the write path.
//!
//! It reads the uids an event names (an application's, an endpoint's, a message's event
//! id) off the delivery path, then publishes one message per event to the operator's
//! endpoint like any other: admitted and handed straight to the dispatcher when there is
//! room, else written unclaimed for the poller. While the store is unavailable or full, an
//! event is tried again with backoff (the bounded channel holds the ones behind it); one
//! that cannot be stored for another reason is dropped with a warning.

use crate::cache::EndpointCache;
use crate::operational::{Event, Events, NodeEvent, OpEvent, OperationalTarget};
use crate::publish::Publisher;
use hookd_core::ids::MsgId;
use hookd_core::model::{Message, DEFAULT_PAYLOAD_RETENTION_DAYS};
use hookd_core::Timestamp;
use hookd_store::{Store, StoreError, StoreResult};
use serde_json::{json, Map, Value};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Most events taken from the channel per round.
const BATCH: usize = 64;

/// Waits between tries to store an event while the store is unavailable.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// What the sending task works with.
pub(crate) struct Sender {
    pub store: Arc<dyn Store>,
    pub target: OperationalTarget,
    /// The operator's endpoint is read through it (at most once a second).
    pub cache: Arc<EndpointCache>,
    pub publisher: Publisher,
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

async fn commit(sender: &Sender, events: impl Iterator<Item = Event>) {
    for event in events {
        let mut backoff = FIRST_BACKOFF;
        loop {
            match commit_one(sender, &event).await {
                Ok(()) => break,
                // The store is down or full: the event waits (the channel bounds how
                // many do), so a stall reported during an outage arrives after it.
                Err(e) if retryable(&e) && !sender.shutdown.is_cancelled() => {
                    tracing::debug!(error = %e, "storing an operational webhook failed; retrying");
                    tokio::select! {
                        () = tokio::time::sleep(backoff) => {}
                        () = sender.shutdown.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
                Err(e) => {
                    tracing::warn!(
                        error = %e,
                        event_type = event_type(&event),
                        "storing an operational webhook failed; it is dropped"
                    );
                    break;
                }
            }
        }
    }
}

/// Stores one event as a message to the operator's endpoint.
async fn commit_one(sender: &Sender, event: &Event) -> StoreResult<()> {
    let target = &sender.target;
    let Some(endpoint) = sender
        .cache
        .get(&*sender.store, &target.app_id, &target.endpoint_id)
        .await?
    else {
        tracing::warn!(
            endpoint.id = %target.endpoint_id,
            "the operational webhooks endpoint no longer exists; dropping an event (it is set up again at start-up)"
        );
        return Ok(());
    };
    let payload = match event {
        Event::Endpoint(e) => payload(&*sender.store, e).await,
        Event::Node(e) => node_payload(e),
    };
    let now = Timestamp::now();
    let msg = Message {
        id: MsgId::generate_at(now),
        app_id: target.app_id.clone(),
        event_id: None,
        event_type: event_type(event).to_owned(),
        payload: Some(Arc::from(payload.to_string())),
        channels: None,
        tags: None,
        created_at: now,
        payload_expires_at: Some(
            now.plus_millis(DEFAULT_PAYLOAD_RETENTION_DAYS.saturating_mul(86_400_000)),
        ),
        trace: None,
    };
    sender.publisher.publish(&msg, &[&*endpoint], None).await?;
    Ok(())
}

fn event_type(event: &Event) -> &'static str {
    match event {
        Event::Endpoint(e) => e.kind.as_str(),
        Event::Node(e) => e.event_type(),
    }
}

/// Whether a failed store call may succeed if tried again later.
fn retryable(e: &StoreError) -> bool {
    matches!(e, StoreError::Unavailable(_) | StoreError::StorageFull(_))
}

/// `{"type": "hookd.node.stalled", "data": {"nodeId", "part", "owedForSecs", "timestamp"}}`.
fn node_payload(e: &NodeEvent) -> Value {
    json!({
        "type": e.event_type(),
        "data": {
            "nodeId": e.node_id,
            "part": e.part,
            "owedForSecs": e.owed_for.as_secs_f64(),
            "timestamp": e.at,
        }
    })
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
