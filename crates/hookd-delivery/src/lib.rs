//! hookd-delivery: turns committed destinations into signed HTTP requests.
//!
//! Layout (data flows top to bottom):
//! - [`Engine`]: the handle the API holds. `admit` reserves in-memory room for a new
//!   message's deliveries before its commit; `submit` hands the committed work over;
//!   `wake` nudges the poller; `invalidate_endpoint` drops a cached endpoint.
//! - `poller`: claims due destinations from the store in batches (retries, work left
//!   over by a crash or by a full queue) and submits them.
//! - `dispatcher`: one bounded queue and a concurrency cap per endpoint, so a slow or
//!   failing endpoint only ever holds its own slots; a global cap bounds in-flight requests.
//! - `flow`: the flow-controlled endpoints (throttle, concurrency cap, FIFO) this node
//!   owns; only the owner claims their deliveries, so the limits hold cluster-wide.
//! - `attempt`: one delivery: load the endpoint, sign, send, classify, record the outcome,
//!   schedule the retry (`Retry-After` honoured, `410 Gone` disables the endpoint).
//! - `recorder`: writes outcomes in batches (one commit for many deliveries).
//! - `client`: the pooled keep-alive hyper client (HTTP/1.1, rustls), no redirects, bounded
//!   response reads, per-request timeout.
//! - `lease`: renews the leases of everything this node holds, so healthy nodes never
//!   take each other's work; a dead node's leases simply run out.
//! - `engine`: the state every task shares, start-up and the shutdown sequence.
//! - `cache`: endpoints cached for at most a second, invalidated on change.
//! - `decision`: the next state after an attempt (retry schedule, `Retry-After`), pure.
//! - `headers`: the signed `webhook-*` headers and the endpoint's custom ones.
//! - `health`: failure streaks per endpoint, written in batches; auto-disable.
//! - [`operational`]: operational webhooks, committed as messages of an internal app.
//! - `recovery`: runs endpoint recoveries (leased background tasks), paced.
//! - [`ssrf`]: the address policy, applied after DNS resolution; the connection goes to the
//!   address that was checked.
//! - [`proxy`]: the optional outbound `CONNECT` proxy (static egress), tunnelling to the
//!   checked address.
//!
//! This crate never touches SQL and never parses API requests.

mod attempt;
mod cache;
mod client;
mod decision;
mod dispatcher;
mod engine;
mod flow;
mod headers;
mod health;
mod lease;
pub mod operational;
mod poller;
pub mod proxy;
mod recorder;
mod recovery;
pub mod ssrf;

pub use proxy::ProxyConfig;

use hookd_core::ids::{AppId, EndpointId};
use hookd_core::retry::RetrySchedule;
use hookd_core::Timestamp;
use hookd_store::{ClaimedDelivery, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// Settings of the delivery engine (filled from hookd's config).
#[derive(Clone, Debug)]
pub struct EngineConfig {
    /// Names this node in leases.
    pub node_id: String,
    pub retry: RetrySchedule,
    /// Whole-request timeout (connect, send, response head and the bounded body read).
    pub request_timeout: Duration,
    /// Upper bound applied to a receiver's `Retry-After`.
    pub max_retry_after: Duration,
    /// Networks exempt from SSRF blocking.
    pub allowed_networks: Vec<ipnet::IpNet>,
    /// Refuse to deliver to plain-`http` URLs.
    pub https_only: bool,
    /// Also send `svix-id`, `svix-timestamp`, `svix-signature`.
    pub svix_headers: bool,
    /// How long a claim lasts before another node (or this one after a restart) may take it.
    pub lease: Duration,
    /// How often the poller looks for due work when nothing wakes it.
    pub poll_interval: Duration,
    /// Most destinations held in memory across all endpoints.
    pub max_queued: usize,
    /// Most destinations held in memory for one endpoint.
    pub max_queued_per_endpoint: usize,
    /// Most concurrent requests to one endpoint.
    pub max_inflight_per_endpoint: usize,
    /// Most concurrent requests overall.
    pub max_inflight: usize,
    /// How long shutdown waits for in-flight requests.
    pub shutdown_grace: Duration,
    /// `user-agent` of outbound requests.
    pub user_agent: String,
    /// Send every delivery through this HTTP `CONNECT` proxy (static egress address).
    pub proxy: Option<ProxyConfig>,
    /// Disable an endpoint once every attempt to it has failed for this long.
    pub auto_disable_after: Duration,
    /// Where operational webhooks go; `None` sends none.
    pub operational: Option<operational::OperationalTarget>,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            node_id: "node".into(),
            retry: RetrySchedule::default(),
            request_timeout: Duration::from_secs(15),
            max_retry_after: Duration::from_secs(3600),
            allowed_networks: Vec::new(),
            https_only: false,
            svix_headers: false,
            lease: Duration::from_secs(60),
            poll_interval: Duration::from_millis(500),
            max_queued: 20_000,
            max_queued_per_endpoint: 2_000,
            max_inflight_per_endpoint: 32,
            max_inflight: 512,
            shutdown_grace: Duration::from_secs(20),
            user_agent: concat!("hookd/", env!("CARGO_PKG_VERSION")).into(),
            proxy: None,
            auto_disable_after: Duration::from_secs(5 * 86_400),
            operational: None,
        }
    }
}

/// Room reserved in memory for a new message's deliveries, taken before its commit.
/// Dropping it without [`Engine::submit`] gives the room back.
#[derive(Debug)]
pub struct Admission {
    /// The lease owner to write on admitted destinations.
    pub owner: String,
    /// The lease expiry to write as their `next_attempt_at`.
    pub lease_until: Timestamp,
    /// Per requested endpoint, in order: whether it was admitted. Destinations not admitted
    /// are written unclaimed and due now; the poller picks them up when there is room.
    pub admitted: Vec<bool>,
    /// The reservations to give back if this is dropped unsubmitted.
    reservation: Reservation,
}

/// The admitted endpoints of an [`Admission`], with the lanes that hold their room.
struct Reservation {
    shared: Arc<engine::Shared>,
    endpoints: Vec<EndpointId>,
}

impl std::fmt::Debug for Reservation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reservation")
            .field("endpoints", &self.endpoints.len())
            .finish()
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        if !self.endpoints.is_empty() {
            self.shared.lanes.release(&self.endpoints);
        }
    }
}

/// The delivery engine's handle. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    shared: Arc<engine::Shared>,
}

impl Engine {
    /// Starts the poller and dispatcher on the current runtime. They stop when `shutdown`
    /// is cancelled; await [`Engine::closed`] to wait for in-flight requests to finish.
    pub fn start(
        store: Arc<dyn Store>,
        config: EngineConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        let shared = engine::Shared::new(store, config, shutdown)?;
        shared.start();
        Ok(Self { shared })
    }

    /// Reserves in-memory room for deliveries to `endpoints` (one entry per destination).
    pub fn admit(&self, endpoints: &[EndpointId]) -> Admission {
        let cfg = &self.shared.config;
        let admitted = if self.shared.shutdown.is_cancelled() {
            vec![false; endpoints.len()]
        } else {
            self.shared
                .lanes
                .reserve(endpoints, cfg.max_queued, cfg.max_queued_per_endpoint)
        };
        let reserved = endpoints
            .iter()
            .zip(&admitted)
            .filter(|(_, ok)| **ok)
            .map(|(ep, _)| ep.clone())
            .collect();
        let lease_ms = i64::try_from(cfg.lease.as_millis()).unwrap_or(i64::MAX);
        Admission {
            owner: cfg.node_id.clone(),
            lease_until: Timestamp::now().plus_millis(lease_ms),
            admitted,
            reservation: Reservation {
                shared: self.shared.clone(),
                endpoints: reserved,
            },
        }
    }

    /// Hands committed, admitted deliveries to the dispatcher (only those whose
    /// `admitted` flag was true, in the same order).
    pub fn submit(&self, mut admission: Admission, work: Vec<ClaimedDelivery>) {
        let reserved = std::mem::take(&mut admission.reservation.endpoints);
        dispatcher::enqueue(&self.shared, &reserved, work);
    }

    /// Asks the poller to look for due work now (after a resend, say).
    pub fn wake(&self) {
        self.shared.poller.wake.notify_one();
    }

    /// New work for these flow-controlled endpoints was committed: if this node owns any
    /// of them, it looks for their deliveries now (other nodes hear of it through the
    /// store's due signal).
    pub fn wake_flow(&self, endpoints: &[EndpointId]) {
        for ep in endpoints {
            self.shared.flow.kick(ep);
        }
    }

    /// Queues an operational webhook (a no-op unless an operator URL is configured).
    pub fn emit(&self, event: operational::OpEvent) {
        self.shared.ops.emit(event);
    }

    /// Whether `app` is the internal application carrying operational webhooks.
    pub fn is_internal_app(&self, app: &AppId) -> bool {
        self.shared.ops.is_internal(app)
    }

    /// Asks the recovery worker to look for new tasks now.
    pub fn wake_recovery(&self) {
        self.shared.recovery_wake.notify_one();
    }

    /// Forgets what this node knows about an endpoint's health (after re-enabling it, its
    /// failure streak was cleared in the store).
    pub fn forget_endpoint_health(&self, endpoint: &EndpointId) {
        self.shared.health.forget(endpoint);
    }

    /// The SSRF policy deliveries obey, so the API can warn about an endpoint URL it
    /// will refuse.
    pub fn ssrf_policy(&self) -> &ssrf::SsrfPolicy {
        self.shared.client.policy()
    }

    /// Forgets a cached endpoint after it changed or was deleted.
    pub fn invalidate_endpoint(&self, app: &AppId, endpoint: &EndpointId) {
        self.shared.cache.invalidate(app, endpoint);
    }

    /// Resolves when the engine has stopped after shutdown (in-flight work finished or
    /// the grace period ran out).
    pub async fn closed(&self) {
        self.shared.closed.cancelled().await;
    }
}
