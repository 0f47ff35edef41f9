//! A running engine over an in-memory store, with a real receiver, and the two ways work
//! reaches it: the write path the API uses, and rows found by the poller.

use super::receiver::Receiver;
use super::store::MemStore;
use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::{
    DeliveryStatus, Endpoint, Message, MessageDestination, Metadata, TriggerType,
};
use hookd_core::retry::RetrySchedule;
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use hookd_delivery::{Engine, EngineConfig};
use hookd_store::ClaimedDelivery;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

pub const PAYLOAD: &str = r#"{"type":"invoice.paid","data":{"id":"in_1","amount":42}}"#;

pub fn config(allow_loopback: bool, delays_ms: &[u64]) -> EngineConfig {
    EngineConfig {
        retry: RetrySchedule::new(
            delays_ms
                .iter()
                .map(|m| Duration::from_millis(*m))
                .collect(),
            0.0,
        ),
        allowed_networks: if allow_loopback {
            vec!["127.0.0.0/8".parse().unwrap()]
        } else {
            Vec::new()
        },
        request_timeout: Duration::from_secs(5),
        poll_interval: Duration::from_millis(200),
        shutdown_grace: Duration::from_secs(5),
        ..EngineConfig::default()
    }
}

pub struct Harness {
    pub store: Arc<MemStore>,
    pub engine: Engine,
    pub shutdown: CancellationToken,
    pub receiver: Receiver,
    pub app: AppId,
}

impl Harness {
    pub async fn start(config: EngineConfig) -> Self {
        let store = MemStore::new();
        let shutdown = CancellationToken::new();
        let engine = Engine::start(store.clone(), config, shutdown.clone()).unwrap();
        Self {
            store,
            engine,
            shutdown,
            receiver: Receiver::start().await,
            app: AppId::generate(),
        }
    }

    pub fn endpoint(&self, url: String) -> Endpoint {
        let ep = Endpoint {
            id: EndpointId::generate(),
            app_id: self.app.clone(),
            uid: None,
            url,
            description: String::new(),
            version: 1,
            rate_limit: None,
            max_concurrency: None,
            fifo: false,
            disabled: false,
            event_types: None,
            channels: None,
            metadata: Metadata::new(),
            secret: EndpointSecret::generate(),
            previous_secrets: Vec::new(),
            headers: BTreeMap::from([("x-tenant".to_string(), "acme".to_string())]),
            created_at: Timestamp::now(),
            updated_at: Timestamp::now(),
        };
        self.store.put_endpoint(ep.clone());
        ep
    }

    pub fn destination(&self, ep: &Endpoint) -> MessageDestination {
        MessageDestination {
            msg_id: MsgId::generate(),
            endpoint_id: ep.id.clone(),
            app_id: self.app.clone(),
            status: DeliveryStatus::Pending,
            attempt_count: 0,
            next_attempt_at: Some(Timestamp::now()),
            last_attempt_at: None,
            trigger: TriggerType::Scheduled,
            lease_owner: None,
        }
    }

    pub fn message(&self) -> Message {
        let now = Timestamp::now();
        Message {
            id: MsgId::generate_at(now),
            app_id: self.app.clone(),
            event_id: None,
            event_type: "invoice.paid".into(),
            payload: Some(PAYLOAD.into()),
            channels: None,
            tags: None,
            created_at: now,
            payload_expires_at: None,
        }
    }

    /// What the API does for a new message: publish it. The destination must be admitted:
    /// written as claimed by this node and handed straight to the dispatcher.
    pub async fn send(&self, ep: &Endpoint) -> MsgId {
        let msg = self.message();
        self.engine.publish(&msg, &[ep]).await.unwrap();
        let written = self.store.as_written(&msg.id, &ep.id);
        assert!(written.lease_owner.is_some(), "admitted");
        msg.id
    }

    /// [`Harness::send`], `n` times in a row.
    pub async fn send_many(&self, ep: &Endpoint, n: usize) -> Vec<MsgId> {
        let mut sent = Vec::with_capacity(n);
        for _ in 0..n {
            sent.push(self.send(ep).await);
        }
        sent
    }

    /// A destination written unclaimed and due now (as another node would), found by the
    /// poller.
    pub fn send_via_poller(&self, ep: &Endpoint) -> MsgId {
        let dest = self.destination(ep);
        self.store.put_destination(claimed(dest.clone()));
        dest.msg_id
    }
}

pub fn claimed(dest: MessageDestination) -> ClaimedDelivery {
    ClaimedDelivery {
        dest,
        event_type: "invoice.paid".into(),
        payload: Some(PAYLOAD.into()),
        forward: None,
    }
}
