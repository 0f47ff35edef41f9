//! Endpoint health: the failure streak behind auto-disable.
//!
//! After each recorded attempt the endpoint's result goes to one task, which writes the
//! latest result per endpoint in batches (`Store::note_endpoint_results`): a failure opens
//! a streak (`failing_since`, kept in the database so restarts and other nodes see it), a
//! success ends it. The store disables an endpoint whose streak is older than
//! `auto_disable_after`; this task then drops it from the cache and emits
//! `endpoint.disabled`.
//!
//! Successes are the hot path, and almost always change nothing: an endpoint seen
//! succeeding is remembered for [`HEALTHY_FOR`], and its successes are not written in that
//! time. A failure forgets it at once. The cost is that a streak opened by another node may
//! outlive a success here by up to that long, which only matters against a period of days.

use crate::cache::EndpointCache;
use crate::metrics::{DeliveryMetrics, Disabled};
use crate::operational::{OpEvent, OpEventKind, Operational};
use hookd_core::ids::{AppId, EndpointId};
use hookd_core::Timestamp;
use hookd_store::{EndpointResult, Store};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio_util::sync::CancellationToken;

/// How long an endpoint seen succeeding is not reported again for a success.
const HEALTHY_FOR: Duration = Duration::from_secs(10);
/// Results waiting to be written; beyond this a result is dropped (the next one reports
/// the same streak).
const QUEUE: usize = 8192;
const BATCH: usize = 512;
/// Remembered healthy endpoints beyond this count trigger a sweep of stale ones.
const SWEEP_ABOVE: usize = 16_384;

/// The reporting side: attempts report here, the writer task ([`run`]) reads.
pub(crate) struct Health {
    queue: mpsc::Sender<EndpointResult>,
    /// Endpoints seen succeeding, by id (ids are unique across applications).
    healthy: Mutex<HashMap<EndpointId, Instant>>,
}

/// Results on their way to the writer task.
pub(crate) type Reports = mpsc::Receiver<EndpointResult>;

impl Health {
    /// The handle, and the receiving end to give [`run`].
    pub fn new() -> (Self, Reports) {
        let (queue, rx) = mpsc::channel(QUEUE);
        let health = Self {
            queue,
            healthy: Mutex::new(HashMap::new()),
        };
        (health, rx)
    }

    /// Reports the result of an attempt (already recorded).
    pub fn report(&self, app: &AppId, endpoint: &EndpointId, ok: bool, at: Timestamp) {
        {
            let mut healthy = self.healthy.lock().unwrap_or_else(|p| p.into_inner());
            if ok {
                if healthy
                    .get(endpoint)
                    .is_some_and(|seen| seen.elapsed() < HEALTHY_FOR)
                {
                    return;
                }
                if healthy.len() >= SWEEP_ABOVE {
                    healthy.retain(|_, seen| seen.elapsed() < HEALTHY_FOR);
                }
                healthy.insert(endpoint.clone(), Instant::now());
            } else {
                healthy.remove(endpoint);
            }
        }
        let result = EndpointResult {
            app_id: app.clone(),
            endpoint_id: endpoint.clone(),
            ok,
            at,
        };
        if self.queue.try_send(result).is_err() {
            tracing::debug!("endpoint health queue is full; dropping a result");
        }
    }

    /// An endpoint enabled again (through the API) starts with no failure streak, so its
    /// next failure does not disable it at once: the streak is cleared in the store and
    /// forgotten here. A failure to clear it is only logged (the endpoint may then be
    /// disabled again at its next failure; the update itself stands).
    pub async fn reenabled(&self, store: &dyn Store, app: &AppId, endpoint: &EndpointId) {
        let cleared = EndpointResult {
            app_id: app.clone(),
            endpoint_id: endpoint.clone(),
            ok: true,
            at: Timestamp::now(),
        };
        if let Err(e) = store
            .note_endpoint_results(&[cleared], Timestamp::from_millis(i64::MIN))
            .await
        {
            tracing::warn!(error = %e, endpoint.id = %endpoint, "clearing the failure streak of a re-enabled endpoint failed");
        }
        self.healthy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .remove(endpoint);
    }
}

/// What the writer task works with.
pub(crate) struct Writer {
    pub store: Arc<dyn Store>,
    /// An auto-disabled endpoint is dropped from it.
    pub cache: Arc<EndpointCache>,
    /// Sends `endpoint.disabled`.
    pub ops: Arc<Operational>,
    /// Disable an endpoint once every attempt to it has failed for this long.
    pub auto_disable_after: Duration,
    /// Counts the endpoints it disables.
    pub metrics: Arc<DeliveryMetrics>,
    pub shutdown: CancellationToken,
}

/// Writes reported results in batches until shutdown.
pub(crate) async fn run(writer: Writer, mut rx: Reports) {
    let mut batch = Vec::with_capacity(BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, BATCH) => if n == 0 { return },
            _ = writer.shutdown.cancelled() => return,
        }
        // The latest result per endpoint wins.
        let mut latest: HashMap<(AppId, EndpointId), EndpointResult> = HashMap::new();
        for r in batch.drain(..) {
            latest.insert((r.app_id.clone(), r.endpoint_id.clone()), r);
        }
        let results: Vec<EndpointResult> = latest.into_values().collect();
        let cutoff = Timestamp::now()
            .plus_millis(-i64::try_from(writer.auto_disable_after.as_millis()).unwrap_or(i64::MAX));
        match writer.store.note_endpoint_results(&results, cutoff).await {
            Ok(disabled) => {
                for d in disabled {
                    tracing::warn!(
                        app.id = %d.app_id,
                        endpoint.id = %d.endpoint_id,
                        failing_since = %d.failing_since,
                        "every attempt to this endpoint failed for the auto-disable period; disabled it"
                    );
                    writer.cache.invalidate(&d.app_id, &d.endpoint_id);
                    writer.metrics.disabled(Disabled::Failing);
                    let mut event = OpEvent::endpoint(
                        OpEventKind::EndpointDisabled,
                        d.app_id,
                        None,
                        d.endpoint_id,
                        None,
                    );
                    event.fail_since = Some(d.failing_since);
                    writer.ops.emit(event);
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, count = results.len(), "recording endpoint failure streaks failed")
            }
        }
    }
}
