//! The engine: builds the parts, hands each the few handles it needs, starts their tasks,
//! and runs the shutdown sequence. [`Engine`] is the handle the API holds.
//!
//! This is the only module that sees every part; the parts see only what they are given
//! here (a dispatcher handle, the lanes, the poller's signal, the pacing table, ...).
//!
//! The API reaches the engine through few calls: new deliveries through the write path
//! (`publish`, `publish_ingest`, `resend`, all `publish::Publisher`), a recovery through
//! `start_recovery`, and every change to an endpoint through `endpoint_changed`.

use crate::attempt::{self, Signing};
use crate::cache::EndpointCache;
use crate::client::HttpClient;
use crate::config::EngineConfig;
use crate::dispatcher::{self, Dispatcher};
use crate::flow::{self, FlowTask};
use crate::health::{self, Health};
use crate::lanes::Lanes;
use crate::lease::{self, Claimant, Renewer};
use crate::metrics::{DeliveryMetrics, Live};
use crate::op_sender;
use crate::operational::{NodeEvent, OpEvent, OpEventKind, Operational};
use crate::pacing::Pacing;
use crate::poller::{self, Poller};
use crate::publish::{IngestEvent, Publisher};
use crate::recorder::Recorder;
use crate::recovery;
use crate::signal::PollerSignal;
use crate::ssrf::{self, SsrfPolicy};
use hookd_core::liveness::Heartbeat;
use hookd_core::metrics::Exposition;
use hookd_core::model::{Application, Endpoint, Message, MAX_RESPONSE_BODY};
use hookd_store::{IngestWrite, RecoveryTask, Store, StoreResult};
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
    store: Arc<dyn Store>,
    /// The write path.
    publisher: Publisher,
    cache: Arc<EndpointCache>,
    health: Arc<Health>,
    ops: Arc<Operational>,
    /// A recovery task was created: the recovery worker looks for it now.
    recovery_wake: Arc<Notify>,
    /// The client deliveries use, for its SSRF policy.
    client: HttpClient,
    /// What the parts count.
    metrics: Arc<DeliveryMetrics>,
    /// Deliveries held in memory, for the metrics.
    lanes: Arc<Lanes>,
    /// Free request slots of `max_inflight`, for the metrics.
    permits: Arc<Semaphore>,
    max_inflight: usize,
    /// The parts the watchdog looks at.
    heartbeats: Vec<Arc<Heartbeat>>,
    /// This node's name in leases.
    node_id: String,
    /// Cancelled once everything stopped.
    closed: CancellationToken,
}

/// What happened to an endpoint, as the engine needs to hear it. Every change made
/// through the API reaches the engine as one [`Engine::endpoint_changed`] call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EndpointChange {
    /// Created: `endpoint.created` is sent.
    Created,
    /// Its settings were replaced or patched: `endpoint.updated` is sent. If it was
    /// disabled before and is enabled now, its failure streak starts over.
    Updated { was_disabled: bool },
    /// Its signing secret was rotated (no event).
    SecretRotated,
    /// Its custom headers changed (no event).
    HeadersChanged,
    /// Deleted: `endpoint.deleted` is sent.
    Deleted,
    /// Deleted together with its application (no event).
    AppDeleted,
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
        let metrics = Arc::new(DeliveryMetrics::default());
        let flow_heartbeat = Arc::new(Heartbeat::new("flow"));
        let recorder = Recorder::start(store.clone());
        let heartbeats = vec![
            poller_signal.heartbeat.clone(),
            lanes.heartbeat().clone(),
            recorder.heartbeat().clone(),
            flow_heartbeat.clone(),
        ];
        let permits = Arc::new(Semaphore::new(config.max_inflight));
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
                recorder,
                health: health.clone(),
                ops: ops.clone(),
                poller: poller_signal.clone(),
                metrics: metrics.clone(),
                tracer: config.tracer.clone(),
            },
            pacing: pacing.clone(),
            poller: poller_signal.clone(),
            permits: permits.clone(),
            tracker: tracker.clone(),
            shutdown: shutdown.clone(),
            hard_stop: hard_stop.clone(),
            lane_cap: config.max_inflight_per_endpoint,
            lease_margin: config.request_timeout.min(config.lease / 2),
        });

        let publisher = Publisher {
            store: store.clone(),
            lanes: lanes.clone(),
            dispatcher: dispatcher.clone(),
            claimant: claimant.clone(),
            poller: poller_signal.clone(),
            pacing: pacing.clone(),
            shutdown: shutdown.clone(),
            tracer: config.tracer.clone(),
        };

        tracker.spawn(poller::run(Poller {
            store: store.clone(),
            dispatcher: dispatcher.clone(),
            signal: poller_signal.clone(),
            pacing: pacing.clone(),
            claimant: claimant.clone(),
            metrics: metrics.clone(),
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
            metrics: metrics.clone(),
            heartbeat: flow_heartbeat.clone(),
            poll_interval: config.poll_interval,
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(recovery::run(recovery::Worker {
            store: store.clone(),
            claimant: claimant.clone(),
            publisher: publisher.clone(),
            wake: recovery_wake.clone(),
            shutdown: shutdown.clone(),
        }));
        tracker.spawn(health::run(
            health::Writer {
                store: store.clone(),
                cache: cache.clone(),
                ops: ops.clone(),
                auto_disable_after: config.auto_disable_after,
                metrics: metrics.clone(),
                shutdown: shutdown.clone(),
            },
            reports,
        ));
        if let Some(target) = ops.target().cloned() {
            tracker.spawn(op_sender::run(
                op_sender::Sender {
                    store: store.clone(),
                    target,
                    cache: cache.clone(),
                    publisher: publisher.clone(),
                    shutdown: shutdown.clone(),
                },
                events,
            ));
        }
        tokio::spawn(close_after_shutdown(Closing {
            store: store.clone(),
            claimant: claimant.clone(),
            tracker,
            grace: config.shutdown_grace,
            shutdown: shutdown.clone(),
            hard_stop,
            closed: closed.clone(),
        }));

        Ok(Self {
            inner: Arc::new(Inner {
                store,
                publisher,
                cache,
                health,
                ops,
                recovery_wake,
                client,
                metrics,
                lanes,
                permits,
                max_inflight: config.max_inflight,
                heartbeats,
                node_id: config.node_id.clone(),
                closed,
            }),
        })
    }

    /// Commits `msg` with one destination per target, then hands the deliveries this node
    /// has room for straight to its dispatcher (see `publish`). Returns once the commit
    /// is durable; a `Conflict` error means the app already has the message's `eventId`.
    pub async fn publish(&self, msg: &Message, targets: &[&Endpoint]) -> StoreResult<()> {
        self.inner.publisher.publish(msg, targets, None).await?;
        Ok(())
    }

    /// [`Engine::publish`] for an event received through an ingest source: written with
    /// its forwarding metadata and de-duplication entry; a duplicate writes and hands over
    /// nothing and names the message the event was first stored as.
    pub async fn publish_ingest(
        &self,
        msg: &Message,
        targets: &[&Endpoint],
        event: IngestEvent<'_>,
    ) -> StoreResult<IngestWrite> {
        self.inner
            .publisher
            .publish(msg, targets, Some(event))
            .await
    }

    /// Makes the delivery of `msg` to `endpoint` pending again as a manual resend, and
    /// hands it over (delivered now if there is room, else by a poller).
    pub async fn resend(&self, msg: Message, endpoint: &Endpoint) -> StoreResult<()> {
        self.inner.publisher.resend(msg, endpoint).await
    }

    /// Stores a new recovery task and has the recovery worker look for it now.
    pub async fn start_recovery(&self, task: &RecoveryTask) -> StoreResult<()> {
        self.inner.store.create_recovery(task).await?;
        self.inner.recovery_wake.notify_one();
        Ok(())
    }

    /// An endpoint of `app` changed (already written to the store): the engine forgets its
    /// cached copy, starts a re-enabled endpoint's failure streak over, and sends the
    /// operational webhook the change calls for.
    pub async fn endpoint_changed(
        &self,
        app: &Application,
        endpoint: &Endpoint,
        change: EndpointChange,
    ) {
        let inner = &self.inner;
        if let EndpointChange::Updated { was_disabled: true } = change {
            if !endpoint.disabled {
                let store = &*inner.store;
                inner.health.reenabled(store, &app.id, &endpoint.id).await;
            }
        }
        inner.cache.invalidate(&app.id, &endpoint.id);
        let kind = match change {
            EndpointChange::Created => OpEventKind::EndpointCreated,
            EndpointChange::Updated { .. } => OpEventKind::EndpointUpdated,
            EndpointChange::Deleted => OpEventKind::EndpointDeleted,
            EndpointChange::SecretRotated
            | EndpointChange::HeadersChanged
            | EndpointChange::AppDeleted => return,
        };
        inner.ops.emit(OpEvent::endpoint(
            kind,
            app.id.clone(),
            app.uid.clone(),
            endpoint.id.clone(),
            endpoint.uid.clone(),
        ));
    }

    /// The SSRF policy deliveries obey, so the API can warn about an endpoint URL it
    /// will refuse.
    /// Writes the engine's metrics (outcomes, durations, latencies, claims, and what this
    /// node holds in memory right now).
    pub fn encode_metrics(&self, out: &mut Exposition) {
        let inner = &self.inner;
        let live = Live {
            in_flight: inner
                .max_inflight
                .saturating_sub(inner.permits.available_permits()),
            held: inner.lanes.held(),
        };
        inner.metrics.encode(out, live);
    }

    /// The engine's parts as the watchdog sees them: `poller`, `dispatcher`, `recorder`,
    /// `flow`.
    pub fn heartbeats(&self) -> &[Arc<Heartbeat>] {
        &self.inner.heartbeats
    }

    /// This node's name (in leases, and in node events).
    pub fn node_id(&self) -> &str {
        &self.inner.node_id
    }

    /// Sends a node event (a part stalled or recovered) as an operational webhook, when
    /// those are configured.
    pub fn report_node(&self, event: NodeEvent) {
        self.inner.ops.emit_node(event);
    }

    pub fn ssrf_policy(&self) -> &ssrf::SsrfPolicy {
        self.inner.client.policy()
    }

    /// Resolves when the engine has stopped after shutdown (in-flight work finished or
    /// the grace period ran out).
    pub async fn closed(&self) {
        self.inner.closed.cancelled().await;
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
