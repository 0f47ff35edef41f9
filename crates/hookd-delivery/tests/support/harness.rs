//! A running engine over a real SQLite store (in a temporary directory), with a real
//! receiver, and the two ways work reaches it: the write path the API uses, and rows found
//! by the poller. Waits re-read the store after each of its commits; none polls.

use hookd_core::ids::{AppId, EndpointId, MsgId};
use hookd_core::model::{Application, Attempt};
use hookd_core::model::{
    DeliveryStatus, Endpoint, Message, MessageDestination, Metadata, TriggerType,
};
use hookd_core::retry::RetrySchedule;
use hookd_core::signing::EndpointSecret;
use hookd_core::Timestamp;
use hookd_delivery::{Engine, EngineConfig};
use hookd_store::sqlite::SqliteStore;
use hookd_store::{AppStore, AttemptFilter, EndpointStore, MessageStore, PageRequest};
use hookd_testkit::receiver::Receiver;
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
    pub store: Db,
    pub engine: Engine,
    pub shutdown: CancellationToken,
    pub receiver: Receiver,
    pub app: AppId,
}

/// The store the engine runs on, with the reads the tests make.
pub struct Db {
    pub sqlite: Arc<SqliteStore>,
    app: AppId,
    _dir: tempfile::TempDir,
}

impl Db {
    /// The delivery of `msg` to `ep` as stored now.
    pub async fn destination(&self, msg: &MsgId, ep: &EndpointId) -> MessageDestination {
        let dests = self.sqlite.list_destinations(&self.app, msg).await.unwrap();
        let found = dests.into_iter().find(|d| &d.endpoint_id == ep);
        found.expect("the destination exists")
    }

    /// Waits (up to 10 s) until `check` holds, checking again after every commit of the
    /// store.
    pub async fn wait_until(&self, what: &str, mut check: impl AsyncFnMut() -> bool) {
        let mut changes = self.sqlite.changes();
        let wait = async {
            loop {
                changes.borrow_and_update();
                if check().await {
                    return;
                }
                changes.changed().await.expect("the store is open");
            }
        };
        tokio::time::timeout(Duration::from_secs(10), wait)
            .await
            .unwrap_or_else(|_| panic!("timed out waiting until {what}"));
    }

    /// Waits until the delivery is settled (`Success` or `Fail`) and returns it.
    pub async fn settled(&self, msg: &MsgId, ep: &EndpointId) -> MessageDestination {
        let mut settled = None;
        self.wait_until("the destination is settled", async || {
            let dest = self.destination(msg, ep).await;
            let done = dest.status != DeliveryStatus::Pending;
            settled = done.then_some(dest);
            done
        })
        .await;
        settled.expect("settled")
    }

    /// The attempts of `msg` to `ep`, oldest first.
    pub async fn attempts(&self, msg: &MsgId, ep: &EndpointId) -> Vec<Attempt> {
        let filter = AttemptFilter {
            msg_id: Some(msg.clone()),
            endpoint_id: Some(ep.clone()),
            ..AttemptFilter::default()
        };
        let page = PageRequest {
            limit: 100,
            after: None,
            descending: false,
        };
        let attempts = self.sqlite.list_attempts(&self.app, &filter, &page).await;
        attempts.unwrap().items
    }

    /// The endpoint as stored now.
    pub async fn endpoint(&self, ep: &EndpointId) -> Endpoint {
        self.sqlite
            .get_endpoint(&self.app, ep.as_str())
            .await
            .unwrap()
    }
}

impl Harness {
    pub async fn start(config: EngineConfig) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let sqlite = Arc::new(SqliteStore::open(&dir.path().join("hookd.db")).unwrap());
        let now = Timestamp::now();
        let app = Application {
            id: AppId::generate_at(now),
            uid: None,
            name: "acme".into(),
            rate_limit: None,
            metadata: Metadata::new(),
            created_at: now,
            updated_at: now,
        };
        sqlite.create_app(&app).await.unwrap();
        let shutdown = CancellationToken::new();
        let engine = Engine::start(sqlite.clone(), config, shutdown.clone()).unwrap();
        Self {
            store: Db {
                sqlite,
                app: app.id.clone(),
                _dir: dir,
            },
            engine,
            shutdown,
            receiver: Receiver::start().await,
            app: app.id,
        }
    }

    /// A stored endpoint of the app sending to `url`, with one custom header.
    pub async fn endpoint(&self, url: String) -> Endpoint {
        let mut ep = Endpoint::new(&self.app, url, EndpointSecret::generate(), Timestamp::now());
        ep.headers = BTreeMap::from([("x-tenant".to_string(), "acme".to_string())]);
        self.store.sqlite.create_endpoint(&ep).await.unwrap();
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
            trace: None,
        }
    }

    /// What the API does for a new message: publish it. (That publishing admits, writing
    /// the delivery as claimed by this node, is its own test.)
    pub async fn send(&self, ep: &Endpoint) -> MsgId {
        let msg = self.message();
        self.engine.publish(&msg, &[ep]).await.unwrap();
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

    /// A message whose delivery is written unclaimed and due now (as another node would
    /// write it), found by the poller.
    pub async fn send_via_poller(&self, ep: &Endpoint) -> MsgId {
        let msg = self.message();
        let mut dest = self.destination(ep);
        dest.msg_id = msg.id.clone();
        self.store
            .sqlite
            .create_message(&msg, &[dest])
            .await
            .unwrap();
        msg.id
    }
}
