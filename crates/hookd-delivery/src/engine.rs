//! The engine: builds the parts, hands each the few handles it needs, starts their tasks,
//! and runs the shutdown sequence. [`Engine`] is the handle the API holds.
//!
//! This is the only module that sees every part; the parts see only what they are given
//! here (a dispatcher handle, the lanes, the poller's signal, the pacing table, ...).

use crate::attempt::{self, Signing};
use crate::cache::EndpointCache;
use crate::client::HttpClient;
use crate::config::EngineConfig;
use crate::dispatcher::{self, Dispatcher};
use crate::flow::{self, FlowTask};
use crate::health::{self, Health};
use crate::lanes::Lanes;
use crate::lease::{self, Claimant, Renewer};
use crate::operational::{self, OpEvent, Operational};
use crate::pacing::Pacing;
use crate::poller::{self, Poller};
use crate::recorder::Recorder;
use crate::recovery;
use crate::signal::PollerSignal;
use crate::ssrf::{self, SsrfPolicy};
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::model::MAX_RESPONSE_BODY;
use hookd_core::Timestamp;
use hookd_store::{ClaimedDelivery, Store};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Endpoints are re-read at least this often, so a change made through another node
/// applies here within a second.
const ENDPOINT_TTL: Duration = Duration::from_secs(1);

/// The delivery engine's handle. Cheap to clone.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

/// What the handle's methods reach.
struct Inner {
    claimant: Claimant,
    lanes: Arc<Lanes>,
    dispatcher: Dispatcher,
    poller: Arc<PollerSignal>,
    pacing: Arc<Pacing>,
    cache: Arc<EndpointCache>,
    health: Arc<Health>,
    ops: Arc<Operational>,
    /// A recovery task was created: the recovery worker looks for it now.
    recovery_wake: Arc<Notify>,
    /// The client deliveries use, for its SSRF policy.
    client: HttpClient,
    shutdown: CancellationToken,
    /// Cancelled once everything stopped.
    closed: CancellationToken,
}

impl Engine {
    /// Starts the poller and dispatcher on the current runtime. They stop when `shutdown`
    /// is cancelled; await [`Engine::closed`] to wait for in-flight requests to finish.
    pub fn start(
        store: Arc<dyn Store>,
        config: EngineConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Self> {
        anyhow::ensure!(config.max_inflight > 0, "max_inflight must be at least 1");
        anyhow::ensure!(
            config.max_inflight_per_endpoint > 0,
            "max_inflight_per_endpoint must be at least 1"
        );
        let client = HttpClient::new(
            SsrfPolicy::new(config.allowed_networks.clone()),
            config.request_timeout,
            MAX_RESPONSE_BODY,
            config.proxy.clone(),
        )?
        .require_https(config.https_only);
        let claimant = Claimant {
            node_id: config.node_id.clone(),
            lease: config.lease,
        };
        let lanes = Arc::new(Lanes::new(
            config.max_queued,
            config.max_queued_per_endpoint,
        ));
        let poller_signal = Arc::new(PollerSignal::new());
        let pacing = Arc::new(Pacing::default());
        let cache = Arc::new(EndpointCache::new(ENDPOINT_TTL));
        let (health, reports) = Health::new();
        let health = Arc::new(health);
        let (ops, events) = Operational::new(config.operational.clone());
        let ops = Arc::new(ops);
        let recovery_wake = Arc::new(Notify::new());
        let tracker = TaskTracker::new();
        let hard_stop = CancellationToken::new();
        let closed = CancellationToken::new();

        let dispatcher = Dispatcher::new(dispatcher::Parts {
            lanes: lanes.clone(),
            attempts: attempt::Context {
                store: store.clone(),
                cache: cache.clone(),
                client: client.clone(),
                signing: Signing {
                    svix_headers: config.svix_headers,
                    user_agent: config.user_agent.clone(),
                },
                retry: config.retry.clone(),
                max_retry_after: config.max_retry_after,
                recorder: Recorder::start(store.clone()),
                health: health.clone(),
                ops: ops.clone(),
                poller: poller_signal.clone(),
            },
            pacing: pacing.clone(),
            poller: poller_signal.clone(),
            permits: Arc::new(Semaphore::new(config.max_inflight)),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
            hard_stop: hard_stop.clone(),
            lane_cap: config.max_inflight_per_endpoint,
            lease_margin: config.request_timeout.min(config.lease / 2),
        });

        tracker.spawn(poller::run(Poller {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            signal: poller_signal.clone(),
            pacing: pacing.clone(),
            claimant: claimant.clone(),
            poll_interval: config.poll_interval,
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(lease::run(Renewer {
            store: store.clone(),
            lanes: lanes.clone(),
            claimant: claimant.clone(),
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(flow::run(FlowTask {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            pacing: pacing.clone(),
            claimant: claimant.clone(),
            poll_interval: config.poll_interval,
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(recovery::run(recovery::Worker {
            store: store.clone(),
            claimant: claimant.clone(),
            poller: poller_signal.clone(),
            pacing: pacing.clone(),
            wake: recovery_wake.clone(),
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(health::run(
            health::Writer {
                store: store.clone(),
                cache: cache.clone(),
                ops: ops.clone(),
                auto_disable_after: config.auto_disable_after,
                shutdown: shutdown.clone(),
            },
            reports,
        ));
        if let Some(target) = ops.target().cloned() {
            tracker.spawn(operational::run(
                operational::Sender {
                    store: store.clone(),
                    target,
                    poller: poller_signal.clone(),
                    shutdown: shutdown.clone(),
                },
                events,
            ));
        }
        tokio::spawn(close_after_shutdown(Closing {
            store,
            claimant: claimant.clone(),
            tracker,
            grace: config.shutdown_grace,
            shutdown: shutdown.clone(),
            hard_stop,
            closed: closed.clone(),
        }));

        Ok(Self {
            inner: Arc::new(Inner {
                claimant,
                lanes,
                dispatcher,
                poller: poller_signal,
                pacing,
                cache,
                health,
                ops,
                recovery_wake,
                client,
                shutdown,
                closed,
            }),
        })
    }

    /// Reserves in-memory room for deliveries to `endpoints` (one entry per destination).
    pub fn admit(&self, endpoints: &[EndpointId]) -> Admission {
        let inner = &self.inner;
        let admitted = if inner.shutdown.is_cancelled() {
            vec![false; endpoints.len()]
        } else {
            inner.lanes.reserve(endpoints)
        };
        let reserved = endpoints
            .iter()
            .zip(&admitted)
            .filter(|(_, ok)| **ok)
            .map(|(ep, _)| ep.clone())
            .collect();
        Admission {
            owner: inner.claimant.node_id.clone(),
            lease_until: inner.claimant.lease_until(Timestamp::now()),
            admitted,
            reservation: Reservation {
                lanes: inner.lanes.clone(),
                endpoints: reserved,
            },
        }
    }

    /// Hands committed, admitted deliveries to the dispatcher (only those whose
    /// `admitted` flag was true, in the same order).
    pub fn submit(&self, mut admission: Admission, work: Vec<ClaimedDelivery>) {
        let reserved = std::mem::take(&mut admission.reservation.endpoints);
        self.inner.dispatcher.enqueue(&reserved, work);
    }

    /// Asks the poller to look for due work now (after a resend, say).
    pub fn wake(&self) {
        self.inner.poller.wake.notify_one();
    }

    /// New work for these flow-controlled endpoints was committed: if this node owns any
    /// of them, it looks for their deliveries now (other nodes hear of it through the
    /// store's due signal).
    pub fn wake_flow(&self, endpoints: &[EndpointId]) {
        for ep in endpoints {
            self.inner.pacing.kick(ep);
        }
    }

    /// Queues an operational webhook (a no-op unless an operator URL is configured).
    pub fn emit(&self, event: OpEvent) {
        self.inner.ops.emit(event);
    }

    /// Whether `app` is the internal application carrying operational webhooks.
    pub fn is_internal_app(&self, app: &AppId) -> bool {
        self.inner.ops.is_internal(app)
    }

    /// Asks the recovery worker to look for new tasks now.
    pub fn wake_recovery(&self) {
        self.inner.recovery_wake.notify_one();
    }

    /// Forgets what this node knows about an endpoint's health (after re-enabling it, its
    /// failure streak was cleared in the store).
    pub fn forget_endpoint_health(&self, endpoint: &EndpointId) {
        self.inner.health.forget(endpoint);
    }

    /// The SSRF policy deliveries obey, so the API can warn about an endpoint URL it
    /// will refuse.
    pub fn ssrf_policy(&self) -> &ssrf::SsrfPolicy {
        self.inner.client.policy()
    }

    /// Forgets a cached endpoint after it changed or was deleted.
    pub fn invalidate_endpoint(&self, app: &AppId, endpoint: &EndpointId) {
        self.inner.cache.invalidate(app, endpoint);
    }

    /// Resolves when the engine has stopped after shutdown (in-flight work finished or
    /// the grace period ran out).
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await;
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
    lanes: Arc<Lanes>,
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
            self.lanes.release(&self.endpoints);
        }
    }
}

/// What the shutdown sequence needs.
struct Closing {
    store: Arc<dyn Store>,
    claimant: Claimant,
    tracker: TaskTracker,
    grace: Duration,
    shutdown: CancellationToken,
    hard_stop: CancellationToken,
    closed: CancellationToken,
}

/// Waits for shutdown, then for in-flight work (up to the grace period), then marks the
/// engine closed. Work still queued in memory keeps its lease and is re-claimed later.
async fn close_after_shutdown(c: Closing) {
    c.shutdown.cancelled().await;
    c.tracker.close();
    if tokio::time::timeout(c.grace, c.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = c.grace.as_secs_f64(),
            "in-flight deliveries did not finish within the shutdown grace period; abandoning them (their leases will expire and they will be retried)"
        );
        c.hard_stop.cancel();
        c.tracker.wait().await;
    }
    flow::release(&*c.store, &c.claimant).await;
    tracing::debug!("delivery engine stopped");
    c.closed.cancel();
}
