//! A running engine over an in-memory store, with a real receiver, and the steps the API
//! takes to hand it work.

use super::receiver::Receiver;
use super::store::MemStore;
use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::{DeliveryStatus, Endpoint, MessageDestination, Metadata, TriggerType};
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

    /// What the API does for a new message: admit, commit as claimed, submit.
    pub fn send(&self, ep: &Endpoint) -> MsgId {
        let admission = self.engine.admit(std::slice::from_ref(&ep.id));
        assert_eq!(admission.admitted, [true]);
        let mut dest = self.destination(ep);
        dest.lease_owner = Some(admission.owner.clone());
        dest.next_attempt_at = Some(admission.lease_until);
        let work = claimed(dest.clone());
        self.store.put_destination(work.clone());
        self.engine.submit(admission, vec![work]);
        dest.msg_id
    }

    /// A destination written unclaimed and due now, found by the poller.
    pub fn send_via_poller(&self, ep: &Endpoint) -> MsgId {
        let dest = self.destination(ep);
        self.store.put_destination(claimed(dest.clone()));
        self.engine.wake();
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
