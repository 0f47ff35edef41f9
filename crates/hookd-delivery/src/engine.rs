//! The engine's shared state and its lifecycle: start the poller, stop on shutdown, and
//! report when in-flight work has finished.
//!
//! [`Shared`] is what every task of the engine holds. Nothing here sends requests or
//! touches the queue's internals; `dispatcher`, `poller` and `attempt` do.

use crate::cache::EndpointCache;
use crate::client::HttpClient;
use crate::dispatcher::Lanes;
use crate::health::Health;
use crate::operational::Operational;
use crate::recorder::Recorder;
use crate::ssrf::SsrfPolicy;
use crate::EngineConfig;
use hookd_core::model::MAX_RESPONSE_BODY;
use hookd_core::Timestamp;
use hookd_store::Store;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{Notify, Semaphore};
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;

/// Endpoints are re-read at least this often, so a change made through another node
/// applies here within a second.
const ENDPOINT_TTL: Duration = Duration::from_secs(1);

/// How the rest of the engine talks to the poller.
pub(crate) struct PollerSignal {
    /// Claim now (`Engine::wake`, or room freed after the poller found none).
    pub wake: Notify,
    /// The earliest due time known changed; recompute the sleep.
    pub hint_changed: Notify,
    /// The earliest known due time in epoch millis (`i64::MAX` when none is known).
    pub next_due: AtomicI64,
    /// Set by the poller when it left due work unclaimed for lack of room.
    pub wants_room: AtomicBool,
}

impl PollerSignal {
    fn new() -> Self {
        Self {
            wake: Notify::new(),
            hint_changed: Notify::new(),
            next_due: AtomicI64::new(i64::MAX),
            wants_room: AtomicBool::new(false),
        }
    }

    /// Makes sure the poller looks again by `at`.
    pub fn due_at(&self, at: Timestamp) {
        let ms = at.as_millis();
        if self.next_due.fetch_min(ms, Ordering::AcqRel) > ms {
            self.hint_changed.notify_one();
        }
    }

    /// Called whenever room frees up; wakes the poller only if it was waiting for room.
    pub fn room_freed(&self) {
        if self.wants_room.load(Ordering::Relaxed) && self.wants_room.swap(false, Ordering::AcqRel)
        {
            self.wake.notify_one();
        }
    }
}

/// Everything the engine's tasks share.
pub(crate) struct Shared {
    pub config: EngineConfig,
    pub store: Arc<dyn Store>,
    pub client: HttpClient,
    pub cache: EndpointCache,
    /// Writes outcomes in batches.
    pub recorder: Recorder,
    /// Per-endpoint queues and the in-memory counts behind admission.
    pub lanes: Lanes,
    /// Bounds concurrent requests across all endpoints (`max_inflight`).
    pub permits: Arc<Semaphore>,
    pub poller: PollerSignal,
    /// The flow-controlled endpoints this node owns.
    pub flow: crate::flow::Flow,
    /// Tracks the poller and every lane worker, so shutdown can wait for them.
    pub tracker: TaskTracker,
    /// Stop taking work.
    pub shutdown: CancellationToken,
    /// The grace period ran out: abandon in-flight requests.
    pub hard_stop: CancellationToken,
    /// Cancelled once everything stopped.
    pub closed: CancellationToken,
    /// Failure streaks and auto-disable.
    pub health: Health,
    /// Operational webhooks.
    pub ops: Operational,
    /// A recovery task was created: look for it now.
    pub recovery_wake: Notify,
}

impl Shared {
    pub fn new(
        store: Arc<dyn Store>,
        config: EngineConfig,
        shutdown: CancellationToken,
    ) -> anyhow::Result<Arc<Self>> {
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
        Ok(Arc::new(Self {
            recorder: Recorder::start(store.clone()),
            store,
            client,
            cache: EndpointCache::new(ENDPOINT_TTL),

            lanes: Lanes::default(),
            permits: Arc::new(Semaphore::new(config.max_inflight)),
            poller: PollerSignal::new(),
            flow: crate::flow::Flow::default(),
            tracker: TaskTracker::new(),
            shutdown,
            hard_stop: CancellationToken::new(),
            closed: CancellationToken::new(),
            health: Health::new(),
            ops: Operational::new(config.operational.clone()),
            recovery_wake: Notify::new(),
            config,
        }))
    }

    /// Spawns the poller and the task that closes the engine after shutdown.
    pub fn start(self: &Arc<Self>) {
        self.tracker.spawn(crate::poller::run(self.clone()));
        self.tracker.spawn(crate::lease::run(self.clone()));
        self.tracker.spawn(crate::flow::run(self.clone()));
        self.tracker.spawn(crate::recovery::run(self.clone()));
        Health::start(self);
        Operational::start(self);
        tokio::spawn(close_after_shutdown(self.clone()));
    }
}

/// Waits for shutdown, then for in-flight work (up to the grace period), then marks the
/// engine closed. Work still queued in memory keeps its lease and is re-claimed later.
async fn close_after_shutdown(shared: Arc<Shared>) {
    shared.shutdown.cancelled().await;
    shared.tracker.close();
    let grace = shared.config.shutdown_grace;
    if tokio::time::timeout(grace, shared.tracker.wait())
        .await
        .is_err()
    {
        tracing::warn!(
            grace_secs = grace.as_secs_f64(),
            "in-flight deliveries did not finish within the shutdown grace period; abandoning them (their leases will expire and they will be retried)"
        );
        shared.hard_stop.cancel();
        shared.tracker.wait().await;
    }
    crate::flow::release(&shared).await;
    tracing::debug!("delivery engine stopped");
    shared.closed.cancel();
}
